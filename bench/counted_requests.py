"""The bench's request scenarios, sent through a rendered project's app in this process, each one
counted on its own by callgrind.

bench/instructions.py runs this with the project's own interpreter, under valgrind with counting
off; it turns counting on around each scenario's requests and dumps what they counted. The app
reads its settings as `serve` does (the project's .env and the environment).

    python counted_requests.py SLUG REQUESTS
"""

import asyncio
import importlib
import itertools
import os
import subprocess
import sys

import httpx
from load import Request
from scenarios import (
    PASSWORD,
    READER,
    WRITER,
    Credentials,
    Fixture,
    Options,
    book,
    scenarios,
)

COUNTED = ("get_by_id", "list_100", "update", "create")
# Books per user: a page of 100 is full.
ROWS = 100
# Sent uncounted first: the first request of a route prepares it.
WARMUP = 20


async def main(slug: str, requests: int) -> None:
    app = importlib.import_module(f"{slug}.main").create_app()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        fixture = await seed(client)
        reader_token = await log_in(client, fixture.reader)
        writer_token = await log_in(client, fixture.writer)
        options = Options(connections=1, logins=1, rows=ROWS, subscribers=0)
        for scenario in scenarios(fixture, reader_token, writer_token, options):
            if scenario.name not in COUNTED:
                continue
            cycle = itertools.cycle(scenario.streams[0].requests)
            sent = [next(cycle) for _ in range(WARMUP + requests)]
            for request in sent[:WARMUP]:
                await send(client, request)
            callgrind("--instr=on")
            for request in sent[WARMUP:]:
                await send(client, request)
            callgrind("--instr=off")
            callgrind(f"--dump={scenario.name}")
            callgrind("--zero")


async def seed(client: httpx.AsyncClient) -> Fixture:
    """A reader and a writer with ROWS books each, made through the API as run.py's seed does."""
    email, password = os.environ["FIRST_SUPERUSER_EMAIL"], os.environ["FIRST_SUPERUSER_PASSWORD"]
    superuser = Credentials(email, password)
    admin = {"Authorization": f"Bearer {await log_in(client, superuser)}"}
    reader, writer = Credentials(READER, PASSWORD), Credentials(WRITER, PASSWORD)
    for user in (reader, writer):
        body = {"email": user.email, "password": user.password}
        (await client.post("/users", json=body, headers=admin)).raise_for_status()
    return Fixture(
        superuser,
        reader,
        writer,
        await create_books(client, await log_in(client, reader)),
        await create_books(client, await log_in(client, writer)),
    )


async def log_in(client: httpx.AsyncClient, credentials: Credentials) -> str:
    form = {"username": credentials.email, "password": credentials.password}
    response = await client.post("/auth/login", data=form)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def create_books(client: httpx.AsyncClient, token: str) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    for number in range(ROWS):
        response = await client.post("/books", json=book(number), headers=headers)
        response.raise_for_status()
        ids.append(int(response.json()["id"]))
    return ids


async def send(client: httpx.AsyncClient, request: Request) -> None:
    headers = {"Authorization": f"Bearer {request.token}"} if request.token else {}
    response = await client.request(
        request.method, request.path, json=request.json_body, data=request.form, headers=headers
    )
    response.raise_for_status()


def callgrind(command: str) -> None:
    """Tell the valgrind this process runs under to do `command` now."""
    control = ["callgrind_control", command, str(os.getpid())]
    subprocess.run(control, check=True, capture_output=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
