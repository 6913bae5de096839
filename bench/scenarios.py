"""Seed data through the API and describe each scenario as load streams."""

from dataclasses import dataclass

import httpx
from load import Request, Stream

PASSWORD = "bench-password-1"
READER = "reader@bench.example.com"
WRITER = "writer@bench.example.com"
# Measured on the PostgreSQL project only, apart from the scenarios every server runs.
FEED = "changes_feed"
# The resource the feed's subscribers follow: the one the create stream adds rows of.
FEED_RESOURCE = "books"


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass(frozen=True)
class Fixture:
    """What seeding made: the reader's rows are only read, the writer's are changed and added.

    The superuser, who sees every user's rows, subscribes to the live feed.
    """

    superuser: Credentials
    reader: Credentials
    writer: Credentials
    reader_book_ids: list[int]
    writer_book_ids: list[int]


@dataclass(frozen=True)
class Options:
    connections: int
    logins: int
    rows: int
    subscribers: int  # sockets on the live feed in the changes_feed scenario


@dataclass(frozen=True)
class Scenario:
    """Streams run at once; `main` is the one the scenario's figures are about."""

    name: str
    streams: tuple[Stream, ...]


def login(client: httpx.Client, credentials: Credentials) -> str:
    response = client.post(
        "/auth/login", data={"username": credentials.email, "password": credentials.password}
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def seed(base_url: str, superuser: Credentials, rows: int) -> Fixture:
    """Create a reader with `rows` books and a writer with as many, through the API."""
    reader, writer = Credentials(READER, PASSWORD), Credentials(WRITER, PASSWORD)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        admin = {"Authorization": f"Bearer {login(client, superuser)}"}
        for user in (reader, writer):
            body = {"email": user.email, "password": user.password}
            client.post("/users", json=body, headers=admin).raise_for_status()
        return Fixture(
            superuser,
            reader,
            writer,
            _create_books(client, login(client, reader), rows),
            _create_books(client, login(client, writer), rows),
        )


def _create_books(client: httpx.Client, token: str, count: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    for number in range(count):
        response = client.post("/books", json=book(number), headers=headers)
        response.raise_for_status()
        ids.append(int(response.json()["id"]))
    return ids


def book(number: int) -> dict[str, object]:
    return {
        "title": f"Book {number}",
        "author": f"Author {number % 17}",
        "summary": "A book the benchmark wrote. " * 4,
        "published_on": f"20{number % 25:02d}-0{number % 9 + 1}-1{number % 9}",
        "price": f"{number % 90 + 10}.{number % 100:02d}",
        "in_stock": number % 2 == 0,
    }


def scenarios(
    fixture: Fixture, reader_token: str, writer_token: str, options: Options
) -> list[Scenario]:
    """Every scenario, in the order they run (reads before the writes that add rows)."""
    connections = options.connections
    login_request = (Request("POST", "/auth/login", form=_form(fixture.reader)),)
    health_request = (Request("GET", "/health"),)
    list_request = (Request("GET", "/books?limit=100", token=reader_token),)
    health_probe = Stream("health", 1, health_request, pause=0.01)
    logins = Stream("login", options.logins, login_request)
    return [
        Scenario("health", (Stream("main", connections, health_request),)),
        Scenario("get_by_id", (Stream("main", connections, _get(fixture, reader_token)),)),
        Scenario("list_100", (Stream("main", connections, list_request),)),
        Scenario("update", (Stream("main", connections, _update(fixture, writer_token)),)),
        Scenario("create", (Stream("main", connections, _create(writer_token)),)),
        Scenario("login", (Stream("main", options.logins, login_request), health_probe)),
        Scenario(
            "list_under_login_storm",
            (Stream("main", connections, list_request), logins, health_probe),
        ),
    ]


def changes_feed(writer_token: str, options: Options) -> Scenario:
    """The writes of the changes_feed scenario: the create scenario's stream, the same rows."""
    return Scenario(FEED, (Stream("main", options.connections, _create(writer_token)),))


def _form(credentials: Credentials) -> dict[str, str]:
    return {"username": credentials.email, "password": credentials.password}


def _get(fixture: Fixture, token: str) -> tuple[Request, ...]:
    return tuple(Request("GET", f"/books/{id_}", token=token) for id_ in fixture.reader_book_ids)


def _update(fixture: Fixture, token: str) -> tuple[Request, ...]:
    # Consecutive requests change different rows, so connections rarely wait on one row's lock.
    return tuple(
        Request("PATCH", f"/books/{id_}", token=token, json_body={"title": f"Updated {id_}"})
        for id_ in fixture.writer_book_ids
    )


def _create(token: str) -> tuple[Request, ...]:
    return (Request("POST", "/books", token=token, json_body=book(7)),)
