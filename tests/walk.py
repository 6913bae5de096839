"""Walk a served project over HTTP as a client would: auth, users, then every resource's CRUD."""

import uuid
from typing import Any

import httpx

from .answers import resources as parsed_resources

JSON = dict[str, Any]
# The password of the users the walk makes.
USER_PASSWORD = "a password for walking"


def walk(base_url: str, superuser_email: str, superuser_password: str, resources: str) -> list[str]:
    """Exercise the API; return the resource paths walked. Raises AssertionError on any surprise."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        admin = login(client, superuser_email, superuser_password)
        check_refresh_rotation(client, admin)
        alice = make_user(client, admin, "alice@example.com")
        bob = make_user(client, admin, "bob@example.com")

        assert client.get("/users").status_code == 401
        assert client.get("/users", headers=bearer(alice)).status_code == 403
        bad_email = {"email": "not-an-email", "password": "long enough password"}
        assert client.post("/users", json=bad_email, headers=bearer(admin)).status_code == 422

        openapi = client.get("/openapi.json").json()
        by_plural = {resource["plural"]: resource for resource in parsed_resources(resources)}
        walked = []
        # A row of alice's per resource walked, for the references of those walked after it.
        kept: dict[str, int] = {}
        for path, create_schema in resource_paths(openapi):
            resource = by_plural[path.removeprefix("/")]
            kept[resource["name"]] = walk_resource(
                client, openapi, path, create_schema, resource, (alice, bob, admin), kept
            )
            walked.append(path)

        logout = client.post("/auth/logout", json={"refresh_token": alice["refresh_token"]})
        assert logout.status_code == 204
        refreshed = client.post("/auth/refresh", json={"refresh_token": alice["refresh_token"]})
        assert refreshed.status_code == 401
    return walked


def login(client: httpx.Client, email: str, password: str) -> JSON:
    response = client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: JSON = response.json()
    return tokens


def bearer(tokens: JSON) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def check_refresh_rotation(client: httpx.Client, tokens: JSON) -> None:
    rotated = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    reused = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401


def make_user(client: httpx.Client, admin: JSON, email: str) -> JSON:
    body = {"email": email, "password": USER_PASSWORD}
    created = client.post("/users", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    duplicate = client.post("/users", json=body, headers=bearer(admin))
    assert duplicate.status_code == 409
    return login(client, email, body["password"])


def resource_paths(openapi: JSON) -> list[tuple[str, str]]:
    """(collection path, create schema name) of every CRUD resource the API documents."""
    found = []
    for path, operations in openapi["paths"].items():
        if path.split("/")[1] in {"auth", "users"} or "post" not in operations:
            continue
        reference = operations["post"]["requestBody"]["content"]["application/json"]["schema"]
        found.append((path, reference["$ref"].rsplit("/", 1)[-1]))
    return found


def walk_resource(
    client: httpx.Client,
    openapi: JSON,
    path: str,
    create_schema: str,
    resource: JSON,
    users: tuple[JSON, JSON, JSON],
    kept: dict[str, int],
) -> int:
    """Walk one resource as its owner, a stranger and an admin; return the id of a row of the
    owner's that is left."""
    owner, stranger, admin = users
    schemas = openapi["components"]["schemas"]
    payload = example_payload(schemas[create_schema], schemas)
    payload.update(all_fraction_decimals(resource))
    for field in resource["fields"]:
        # Parents are walked first (the order of the routes); an optional one may be left out.
        parent = kept.get(field["target"])
        if field["type"] == "ref":
            payload[f"{field['name']}_id"] = parent
        elif field["type"] == "refs":
            payload[f"{field['item']}_ids"] = [parent] if parent else []
    unique = any(field["unique"] for field in resource["fields"])

    created = client.post(path, json=payload, headers=bearer(owner))
    assert created.status_code == 201, (path, created.text)
    row_url = f"{path}/{created.json()['id']}"

    assert client.get(row_url, headers=bearer(owner)).status_code == 200
    listed = client.get(path, headers=bearer(owner)).json()
    assert [item["id"] for item in listed["items"]] == [created.json()["id"]]
    assert client.patch(row_url, json=payload, headers=bearer(owner)).status_code == 200

    assert client.get(row_url).status_code == 401
    assert client.get(row_url, headers=bearer(stranger)).status_code == 404
    assert client.delete(row_url, headers=bearer(stranger)).status_code == 404
    assert client.get(row_url, headers=bearer(admin)).status_code == 200

    unknown_field = client.post(path, json={**payload, "no_such_field": 1}, headers=bearer(owner))
    assert unknown_field.status_code == 422
    assert unknown_field.json()["detail"][0]["loc"] == ["body", "no_such_field"]
    bad_sort = client.get(path, params={"sort": "no_such_field"}, headers=bearer(owner))
    assert bad_sort.status_code == 422

    again = client.post(path, json=payload, headers=bearer(owner))
    assert again.status_code == (409 if unique else 201), (path, again.text)

    assert client.delete(row_url, headers=bearer(owner)).status_code == 204
    assert client.get(row_url, headers=bearer(owner)).status_code == 404

    if not unique:
        # The second row made above is still there.
        return int(again.json()["id"])
    left = client.post(path, json=payload, headers=bearer(owner))
    assert left.status_code == 201, (path, left.text)
    return int(left.json()["id"])


def example_payload(schema: JSON, schemas: JSON) -> JSON:
    return {
        name: example_value(property_schema, schemas)
        for name, property_schema in schema["properties"].items()
    }


def example_value(schema: JSON, schemas: JSON) -> object:
    """A value valid for any field the template can generate, read off its JSON schema."""
    if "$ref" in schema:
        return example_value(schemas[schema["$ref"].rsplit("/", 1)[-1]], schemas)
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        return example_value(options[0], schemas)
    kind, value_format = schema.get("type"), schema.get("format")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string" and value_format == "email":
        return "walked@example.com" if schema.get("maxLength", 254) >= 18 else "w@x.io"
    if kind == "string" and value_format == "uri":
        return (
            "https://example.com/walked" if schema.get("maxLength", 2083) >= 26 else "http://x.io"
        )
    if kind == "string" and value_format == "date":
        return "2024-02-29"
    if kind == "string" and value_format == "date-time":
        return "2024-02-29T12:00:00Z"
    if kind == "string" and value_format == "uuid":
        return str(uuid.uuid4())
    if kind == "string":
        return "walked".ljust(schema.get("minLength", 0), "-")[: schema.get("maxLength", 6)]
    if kind == "boolean":
        return True
    if kind == "array":
        # A many-to-many's ids: none, unless the walk links the rows it made before.
        return []
    if kind in ("integer", "number"):
        # 0 fits every integer, float and decimal(P,S) column the template can make, unless
        # the field's bounds leave it out.
        lowest, highest = schema.get("minimum", 0), schema.get("maximum", 0)
        return lowest if lowest > 0 else highest if highest < 0 else 0
    raise AssertionError(f"no example for schema {schema}")


def all_fraction_decimals(resource: JSON) -> JSON:
    """A value for each decimal(P,P) field, where 0 has one whole digit too many."""
    return {
        field["name"]: "0.1"
        for field in resource["fields"]
        if field["type"] == "decimal" and field["precision"] == field["scale"]
    }
