import re

from httpx import AsyncClient


async def test_docs_load_every_asset_from_the_app(client: AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        assert response.status_code == 200, page
        assert "https://" not in response.text, page
        assert response.headers["content-security-policy"].startswith("default-src 'self';")
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/docs-assets/"), (page, asset)
            assert (await client.get(asset)).status_code == 200, asset


async def test_swagger_ui_can_finish_an_oauth2_login(client: AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert "oauth2" in response.text
