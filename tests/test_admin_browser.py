"""The admin panel and the API docs in a real browser: Debian's chromium, driven by Playwright,
on a served sample.

Also checks that a sample with `admin: false` has nothing of sqladmin left.
"""

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from .conftest import ARTIFACTS, Project, sample_project, source_files, sqlite_env
from .samples import sample
from .server import served
from .walk import bearer, login

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, sample("defaults"))


def api_books(base_url: str, email: str, password: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=base_url) as client:
        books = client.get("/books", headers=bearer(login(client, email, password)))
        assert books.status_code == 200, books.text
        items: list[dict[str, object]] = books.json()["items"]
        return items


def save(page: Page) -> None:
    page.locator('input[type="submit"][value="Save"]').click()


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login")
    page.fill('input[name="username"]', email)
    page.fill('input[name="password"]', password)
    page.locator('button[type="submit"]').click()
    expect(page).to_have_url(f"{base_url}/admin/")


def test_superuser_manages_a_book_in_the_browser(
    project: Project, browser: Browser, tmp_path: Path
) -> None:
    env = sqlite_env(tmp_path / "admin.db")
    project.run("alembic", "upgrade", "head", env=env)
    email = project.env["FIRST_SUPERUSER_EMAIL"]
    password = project.env["FIRST_SUPERUSER_PASSWORD"]

    with served(project, env=env, log=tmp_path / "server.log") as base_url:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))

        page.goto(f"{base_url}/admin/")
        expect(page).to_have_url(f"{base_url}/admin/login")
        page.fill('input[name="username"]', email)
        page.fill('input[name="password"]', "not the password")
        page.locator('button[type="submit"]').click()
        expect(page.get_by_text("Invalid credentials.").first).to_be_visible()
        log_in(page, base_url, email, password)

        page.goto(f"{base_url}/admin/book/create")
        page.fill("#title", "Dune")
        page.fill("#author", "Frank Herbert")
        page.fill("#summary", "A desert planet.")
        page.fill("#published_on", "1965-08-01")
        page.fill("#price", "9.99")
        page.check("#in_stock")
        save(page)
        expect(page).to_have_url(re.compile(r"/admin/book/list"))
        row = page.locator("tbody tr", has_text="Dune")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(email)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "admin-book-list.png", full_page=True)

        [book] = api_books(base_url, email, password)
        assert book["title"] == "Dune"
        assert book["price"] == "9.99"
        assert book["published_on"] == "1965-08-01"
        assert book["in_stock"] is True

        page.goto(f"{base_url}/admin/book/edit/{book['id']}")
        page.fill("#title", "Dune Messiah")
        save(page)
        expect(page.locator("tbody tr", has_text="Dune Messiah")).to_have_count(1)
        [book] = api_books(base_url, email, password)
        assert book["title"] == "Dune Messiah"

        page.goto(f"{base_url}/admin/book/details/{book['id']}")
        page.locator('a[data-bs-target="#modal-delete"]').click()
        # The modal's script sets the button's target as it opens: click once it is shown.
        expect(page.locator("#modal-delete")).to_be_visible()
        page.locator("#modal-delete-button").click()
        expect(page).to_have_url(re.compile(r"/admin/book/list"))
        expect(page.locator("tbody tr", has_text="Dune")).to_have_count(0)
        assert api_books(base_url, email, password) == []

        page.goto(f"{base_url}/admin/logout")
        page.goto(f"{base_url}/admin/book/list")
        expect(page).to_have_url(f"{base_url}/admin/login")

        # Every script, style sheet and font comes from the app itself: no CDN.
        assert [url for url in requested if not url.startswith(base_url)] == []


def test_an_edit_changes_what_was_typed_and_nothing_else(
    shared_samples: Path, browser: Browser, tmp_path: Path
) -> None:
    """Rows made over the API with values that the edit form cannot show exactly (a datetime's
    fraction of a second, text's line breaks stored as CRLF, which the form reads as LF) or that
    the date picker must read back (dates of the year 999), saved unchanged in the admin, each
    read as before, `updated_at` included. Text typed in the form is stored with its line breaks
    as typed, where the browser posts them as CRLF."""
    project = sample_project(shared_samples, sample("every-type"))
    env = sqlite_env(tmp_path / "edits.db")
    project.run("alembic", "upgrade", "head", env=env)
    email = project.env["FIRST_SUPERUSER_EMAIL"]
    password = project.env["FIRST_SUPERUSER_PASSWORD"]
    # By admin identity: the API's path and a new row's body.
    rows = {
        "blog-category": (
            "/blog_categories",
            {
                "title": "Lines",
                "notes": "first line\r\nsecond line\n",
                "born_on": "0999-03-04",
                "launched_at": "0999-05-06T07:08:09.123456Z",
            },
        ),
        "status-entry": (
            "/status_log",
            {"code": str(uuid.uuid4()), "at": "2024-05-06T07:08:09.654321Z", "weight": "0.5"},
        ),
    }

    with (
        served(project, env=env, log=tmp_path / "server.log") as base_url,
        httpx.Client(base_url=base_url) as client,
    ):
        headers = bearer(login(client, email, password))
        page = browser.new_page()
        log_in(page, base_url, email, password)
        row_ids: dict[str, int] = {}
        for identity, (path, body) in rows.items():
            created = client.post(path, json=body, headers=headers)
            assert created.status_code == 201, created.text
            row = created.json()
            row_ids[identity] = row["id"]
            page.goto(f"{base_url}/admin/{identity}/edit/{row['id']}")
            save(page)
            expect(page).to_have_url(re.compile(rf"/admin/{identity}/list"))
            assert client.get(f"{path}/{row['id']}", headers=headers).json() == row

        category = f"/blog_categories/{row_ids['blog-category']}"
        page.goto(f"{base_url}/admin/blog-category/edit/{row_ids['blog-category']}")
        page.locator("#notes").fill("typed\nin the browser\n")
        save(page)
        expect(page).to_have_url(re.compile(r"/admin/blog-category/list"))
        assert client.get(category, headers=headers).json()["notes"] == "typed\nin the browser\n"


def test_docs_list_the_operations_with_the_network_cut_off(
    project: Project, browser: Browser, tmp_path: Path
) -> None:
    """Every request that leaves the app is refused, as on a plane or behind a strict CSP."""
    env = sqlite_env(tmp_path / "docs.db")
    with served(project, env=env, log=tmp_path / "server.log") as base_url:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        refused: list[str] = []

        def only_the_app(route: Route) -> None:
            if route.request.url.startswith(base_url):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_app)
        ARTIFACTS.mkdir(exist_ok=True)

        page.goto(f"{base_url}/docs")
        expect(
            page.locator(".opblock-summary-path", has_text="/books/{book_id}").first
        ).to_be_visible()
        expect(page.locator(".opblock")).to_have_count(len(operations(base_url)))
        page.screenshot(path=ARTIFACTS / "docs-swagger-ui.png", full_page=True)

        page.goto(f"{base_url}/redoc")
        expect(page.locator("h2", has_text="List Books")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "docs-redoc.png")

    assert refused == []


def operations(base_url: str) -> list[str]:
    """The operation ids of the served OpenAPI document."""
    document = httpx.get(f"{base_url}/openapi.json").json()
    return [
        operation["operationId"]
        for path in document["paths"].values()
        for operation in path.values()
    ]


def test_without_admin_nothing_of_sqladmin_is_rendered(shared_samples: Path) -> None:
    project = sample_project(shared_samples, sample("no-admin"))

    files = source_files(project.path)
    assert [name for name in files if "admin" in Path(name).name] == []
    for name, text in files.items():
        for word in ("sqladmin", "wtforms", "mount_admin", "admin_session"):
            assert word not in text, f"{name} mentions {word}"
