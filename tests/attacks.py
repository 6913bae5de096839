"""What an attacker sends a served project, over HTTP: every attempt is refused with a 4xx.

Tokens are forged here with the standard library, so each refusal is of the token's fault alone:
a token signed the same way with the project's own key is accepted.
"""

import base64
import hashlib
import hmac
import json
import random
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from .walk import JSON, USER_PASSWORD, bearer, login, make_user, resource_paths

MALLORY = "mallory@example.com"
OUT_OF_RANGE_IDS = ("0", "-1", "2147483648", "9223372036854775808", "1e3", "1.5")
# What the admin panel's addresses and queries are tried with, drawn at random (seeded). None is
# the id of a row: a delete of one deletes nothing.
ADMIN_VALUES = (
    *("\x00", "", "abc", "-1", "0", "1.5", "1e400", "nan", "2147483648", "9" * 30, "'", "%"),
    *("2024-13-45", "2024-01-01", "00000000-0000-4000-8000-000000000001", "y"),
)
ADMIN_OPERATIONS = ("equals", "greater_than", "less_than", "contains", "starts_with", "ends_with")
ADMIN_REQUESTS = 300


def attack(base_url: str, credentials: dict[str, str]) -> list[str]:
    """Try every attack on the app at `base_url`; return what was tried. AssertionError names
    the one that got through."""
    tried: list[str] = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        admin = login(
            client, credentials["FIRST_SUPERUSER_EMAIL"], credentials["FIRST_SUPERUSER_PASSWORD"]
        )
        tried += forged_tokens(client, credentials["SECRET_KEY"], admin)
        mallory = make_user(client, admin, MALLORY)
        tried += superuser_routes_as_a_user(client, mallory)
        tried += hostile_inputs(client, admin)
        tried += out_of_range_ids(client, admin)
        tried.append(exchange_race(base_url, mallory))
    tried += admin_addresses_and_queries(base_url, credentials)
    return tried


def forged_tokens(client: httpx.Client, secret_key: str, admin: JSON) -> list[str]:
    # The subject as the project names it: the user's id and when the user was made.
    issued = claims_of(admin["access_token"])
    subject = {"sub": issued["sub"], "user_created": issued["user_created"]}
    now = int(time.time())
    claims = {**subject, "type": "access", "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600}
    genuine = jwt(claims, secret_key)
    assert client.get("/users/me", headers=header(genuine)).status_code == 200, "genuine"

    forged = {
        "signed with another key": jwt(claims, "another key, just as long as the real one"),
        "expired": jwt({**claims, "exp": now - 5}, secret_key),
        "unsigned (alg none)": jwt(claims, "", algorithm="none"),
        "signed with HS512": jwt(claims, secret_key, algorithm="HS512"),
        "a refresh token": admin["refresh_token"],
        "without a subject": jwt({k: v for k, v in claims.items() if k != "sub"}, secret_key),
        "of a user that does not exist": jwt({**claims, "sub": "2147483647"}, secret_key),
        "with a subject that is not a number": jwt({**claims, "sub": "1 OR 1=1"}, secret_key),
        "of the user's id made at another time": jwt(
            {**claims, "user_created": claims["user_created"] + 1}, secret_key
        ),
        "without when its user was made": jwt(
            {k: v for k, v in claims.items() if k != "user_created"}, secret_key
        ),
        "truncated": genuine[:-3],
    }
    for name, token in forged.items():
        response = client.get("/users/me", headers=header(token))
        assert response.status_code == 401, (name, response.text)
    access_as_refresh = client.post("/auth/refresh", json={"refresh_token": genuine})
    assert access_as_refresh.status_code == 401, access_as_refresh.text
    return [f"token {name}" for name in forged] + ["an access token to refresh"]


def superuser_routes_as_a_user(client: httpx.Client, user: JSON) -> list[str]:
    user_id = client.get("/users/me", headers=bearer(user)).json()["id"]
    new_user = {"email": "x@example.com", "password": "x" * 12}
    refusals = {
        "list users": (client.get("/users", headers=bearer(user)), 403),
        "create a user": (client.post("/users", json=new_user, headers=bearer(user)), 403),
        "make oneself superuser": (
            client.patch(f"/users/{user_id}", json={"is_superuser": True}, headers=bearer(user)),
            403,
        ),
        "make oneself superuser through /users/me": (
            client.patch("/users/me", json={"is_superuser": True}, headers=bearer(user)),
            422,
        ),
        "delete a user": (client.delete("/users/1", headers=bearer(user)), 403),
    }
    for name, (response, status) in refusals.items():
        assert response.status_code == status, (name, response.text)
    tried = [f"as a user: {name}" for name in refusals]
    if client.get("/admin/login").status_code == 200:
        # The admin takes the API's email and password, and lets in active superusers only.
        client.post("/admin/login", data={"username": MALLORY, "password": USER_PASSWORD})
        assert client.get("/admin/", follow_redirects=False).status_code in (302, 303, 307)
        tried.append("as a user: the admin panel")
    return tried


def hostile_inputs(client: httpx.Client, admin: JSON) -> list[str]:
    expectations = {
        "a 5000-byte password": (
            client.post("/auth/login", data={"username": "a@b.io", "password": "p" * 5000}),
            401,
        ),
        "a NUL in the login username": (
            client.post("/auth/login", data={"username": "a\x00@b.io", "password": "x"}),
            422,
        ),
        "a NUL in a user's name": (
            client.patch("/users/me", json={"full_name": "a\x00b"}, headers=bearer(admin)),
            422,
        ),
        "a body that is not UTF-8": (
            client.post(
                "/users",
                content=b"\xff\xfe{",
                headers={**bearer(admin), "Content-Type": "application/json"},
            ),
            400,
        ),
        "a body that is not JSON": (
            client.post(
                "/auth/refresh", content=b"{", headers={"Content-Type": "application/json"}
            ),
            422,
        ),
    }
    for name, (response, status) in expectations.items():
        assert response.status_code == status, (name, response.text)
        assert response.json()["detail"], name
    return list(expectations)


def out_of_range_ids(client: httpx.Client, admin: JSON) -> list[str]:
    openapi = client.get("/openapi.json").json()
    tried = []
    for path in [path for path, _ in resource_paths(openapi)] + ["/users"]:
        for row_id in OUT_OF_RANGE_IDS:
            response = client.get(f"{path}/{row_id}", headers=bearer(admin))
            assert response.status_code == 422, (path, row_id, response.text)
        for offset in ("-1", "2147483648", "9223372036854775808"):
            response = client.get(path, params={"offset": offset}, headers=bearer(admin))
            assert response.status_code == 422, (path, offset, response.text)
        tried.append(f"out-of-range ids and offsets at {path}")
    return tried


def admin_addresses_and_queries(base_url: str, credentials: dict[str, str]) -> list[str]:
    """What a superuser's browser may send the admin panel, drawn at random: row and file pages,
    and deletes, of ids no row can have, searches, pages, sorts and every list filter's operations
    with odd values. None gets a 5xx."""
    with httpx.Client(base_url=base_url, timeout=10) as browser:
        if browser.get("/admin/login").status_code != 200:
            return []
        account = {
            "username": credentials["FIRST_SUPERUSER_EMAIL"],
            "password": credentials["FIRST_SUPERUSER_PASSWORD"],
        }
        logged_in = browser.post("/admin/login", data=account)
        # Carried as set: over plain HTTP the client would hold back a cookie marked Secure.
        browser.cookies = dict(logged_in.cookies.items())
        index = browser.get("/admin/")
        assert index.status_code == 200, index.text
        identities = sorted(set(re.findall(r"/admin/([\w-]+)/list", index.text)))
        openapi = browser.get("/openapi.json").json()
        columns = sorted(
            {
                column
                for name, schema in openapi["components"]["schemas"].items()
                if name.endswith("Read")
                for column in schema.get("properties", {})
            }
        )
        draw = random.Random(0)
        for _ in range(ADMIN_REQUESTS):
            identity, value = draw.choice(identities), draw.choice(ADMIN_VALUES)
            column = draw.choice(columns)
            operation = draw.choice(ADMIN_OPERATIONS)
            parameter = draw.choice(("search", "page", "pageSize", "sortBy"))
            row_page = f"{draw.choice(('details', 'edit'))}/{quote(value, safe='')}"
            file_page = f"{quote(value, safe='')}/{column}/{draw.choice(('download', 'preview'))}/"
            requests = [
                ("GET", "list", {column: value, f"{column}_op": operation}),
                ("GET", "list", {parameter: value}),
                ("GET", row_page, {}),
                ("GET", file_page, {}),
                ("GET", "ajax/lookup", {"name": column, "term": value}),
                ("DELETE", "delete", {"pks": value}),
            ]
            method, page, query = draw.choice(requests)
            response = browser.request(method, f"/admin/{identity}/{page}", params=query)
            assert response.status_code < 500, (method, identity, page, query, response.text[-500:])
    return [f"{ADMIN_REQUESTS} admin addresses and queries"]


def exchange_race(base_url: str, user: JSON) -> str:
    """Ten clients present one refresh token at once: exactly one gets a new pair."""
    body = {"refresh_token": user["refresh_token"]}

    def refresh(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            return client.post("/auth/refresh", json=body).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(refresh, range(10)))
    assert statuses == [200] + [401] * 9, statuses
    return "ten concurrent refreshes of one token"


def jwt(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    """A JSON Web Token, encoded and signed (HMAC-SHA2, or not at all for "none") by hand."""
    segments = [encode({"alg": algorithm, "typ": "JWT"}), encode(claims)]
    signing_input = ".".join(segments).encode()
    digests = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}
    signature = b""
    if algorithm != "none":
        signature = hmac.new(key.encode(), signing_input, digests[algorithm]).digest()
    return ".".join([*segments, base64url(signature)])


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, read without checking its signature."""
    payload = token.split(".")[1]
    padding = "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + padding))
    return claims


def encode(part: dict[str, Any]) -> str:
    return base64url(json.dumps(part, separators=(",", ":")).encode())


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
