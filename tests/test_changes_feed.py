"""The live feed across instances: two servers of one PostgreSQL project, a client of one of them
and writes through the other, as real processes over HTTP and WebSocket.

The figures (delivery latency, memory of a dropped client) are printed: `pytest -s` shows them.
"""

import asyncio
import json
import os
import signal
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .conftest import ARTIFACTS, Project, sample_project
from .postgres import locked, psql, throwaway_database, wait_for_session
from .samples import Sample
from .server import served
from .test_postgres import ANSWERS
from .walk import bearer, login

pytestmark = pytest.mark.slow

WRITES = 200
WRITERS = 4
MISSED = 20
# A socket's queue on the servers: small, so that a client that stops reading fills it soon.
QUEUE_SIZE = 100
# Rows of 8 KB make a client that stops reading fill the buffers between it and the server.
SUMMARY = "x" * 8_000
SLOW_CLIENT_WRITES = 1_500
# Holding every event for the client that stopped reading took 8 MiB more (1,500 rows of
# 8 KB); dropping it, none.
MEMORY_BOUND_MIB = 4
# A delivered event is due in milliseconds; a machine under load may take far longer.
RECEIVE_SECONDS = 20.0
LATENCY_BOUND_SECONDS = 2.0
# uvicorn's shutdown ends the sockets, then the lifespan closes the feed: a second or two.
STOP_BOUND_SECONDS = 15.0


@dataclass(frozen=True)
class Instances:
    """Two servers of one project on one database: clients subscribe to one, write to the other."""

    first: str
    second: str
    headers: dict[str, str]
    token: str


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, Sample("postgresql", ANSWERS))


@pytest.fixture(scope="module")
def instances(
    postgres: None, project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instances]:
    logs = tmp_path_factory.mktemp("feed-logs")
    with throwaway_database() as database_url:
        env = {"DATABASE_URL": database_url, "CHANGES_QUEUE_SIZE": str(QUEUE_SIZE)}
        project.run("alembic", "upgrade", "head", env=env)
        with (
            served(project, env=env, log=logs / "first.log") as first,
            served(project, env=env, log=logs / "second.log") as second,
        ):
            tokens = superuser_tokens(project, second)
            yield Instances(first, second, bearer(tokens), tokens["access_token"])
        for log in logs.iterdir():
            assert "Traceback" not in log.read_text(), log.read_text()


def superuser_tokens(project: Project, base_url: str) -> dict[str, Any]:
    """The tokens of the project's first superuser, logged in on that server."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        email, password = (
            project.env["FIRST_SUPERUSER_EMAIL"],
            project.env["FIRST_SUPERUSER_PASSWORD"],
        )
        return login(client, email, password)


def socket_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/changes"


async def subscribe(ws: ClientConnection, token: str, **fields: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"access_token": token, "resources": ["books"], **fields}))
    return await receive(ws)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_SECONDS))
    return message


async def write_books(
    instances: Instances, titles: list[str], *, summary: str | None = None
) -> dict[str, float]:
    """Create a book of each title through the second instance, WRITERS at a time; the time
    each request was sent, by title."""
    sent: dict[str, float] = {}
    pending = list(reversed(titles))

    async def writer(client: httpx.AsyncClient) -> None:
        while pending:
            title = pending.pop()
            sent[title] = time.monotonic()
            book = {"title": title, "author": "A. Writer", "in_stock": True, "summary": summary}
            response = await client.post("/books", json=book)
            assert response.status_code == 201, response.text

    async with httpx.AsyncClient(
        base_url=instances.second, headers=instances.headers, timeout=60
    ) as client:
        await asyncio.gather(*(writer(client) for _ in range(WRITERS)))
    return sent


def test_a_client_of_one_instance_receives_the_writes_through_another_in_commit_order(
    instances: Instances,
) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, float], dict[str, float]]:
        async with connect(socket_url(instances.first)) as ws:
            ready = await subscribe(ws, instances.token)
            assert ready["type"] == "ready"
            titles = [f"live {index}" for index in range(WRITES)]
            writing = asyncio.create_task(write_books(instances, titles))
            events, received = [], {}
            for _ in titles:
                event = await receive(ws)
                received[event["row"]["title"]] = time.monotonic()
                events.append(event)
            return events, await writing, received

    events, sent, received = asyncio.run(scenario())

    assert [event["operation"] for event in events] == ["create"] * WRITES
    assert sorted(received) == sorted(sent)
    cursors = [event["cursor"] for event in events]
    # Four writers at once commit in an order of their own, which the cursors follow.
    assert cursors == sorted(set(cursors)), "cursors out of order or repeated"
    latencies = sorted(received[title] - sent[title] for title in sent)
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * len(latencies)) - 1]
    summary = (
        f"{WRITES} writes through one instance, {WRITERS} at a time, received on the other: "
        f"latency from sending the write p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"\n{summary}")
    # The stream as the client received it, for a person to read.
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [summary, *(json.dumps(event) for event in events)]
    (ARTIFACTS / "feed-stream.txt").write_text("\n".join(lines) + "\n")
    assert latencies[-1] < LATENCY_BOUND_SECONDS


def test_a_client_that_reconnects_with_its_cursor_receives_what_it_missed(
    instances: Instances,
) -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
        async with connect(socket_url(instances.first)) as ws:
            left_at = (await subscribe(ws, instances.token))["cursor"]
        await write_books(instances, [f"missed {index}" for index in range(MISSED)])
        async with connect(socket_url(instances.second)) as ws:
            await ws.send(json.dumps({"access_token": instances.token, "cursor": left_at}))
            caught_up = [await receive(ws) for _ in range(MISSED)]
            return left_at, caught_up, await receive(ws)

    left_at, caught_up, ready = asyncio.run(scenario())

    titles = sorted(event["row"]["title"] for event in caught_up)
    assert titles == sorted(f"missed {index}" for index in range(MISSED))
    cursors = [event["cursor"] for event in caught_up]
    assert cursors == sorted(set(cursors))
    assert cursors[0] > left_at
    assert ready == {"type": "ready", "cursor": cursors[-1]}


def test_a_client_that_stops_reading_is_dropped_within_a_memory_bound(
    instances: Instances,
) -> None:
    pid = server_pid(instances.first)

    async def scenario() -> tuple[float, float, int, int | None]:
        host, port = instances.first.removeprefix("http://").split(":")
        stalled = socket.socket()
        # A small receive window: the client's kernel holds little of what it does not read.
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect((host, int(port)))
        stalled.setblocking(False)
        # Uncompressed: a compressed row of one repeated letter is a few bytes.
        slow = connect(socket_url(instances.first), sock=stalled, max_queue=1, compression=None)
        async with slow as ws:
            await subscribe(ws, instances.token)
            before = rss_mib(pid)
            titles = [f"unread {index}" for index in range(SLOW_CLIENT_WRITES)]
            await write_books(instances, titles, summary=SUMMARY)
            await asyncio.sleep(1)
            after = rss_mib(pid)
            read, code = 0, None
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), RECEIVE_SECONDS)
                    read += 1
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            except TimeoutError:
                pass  # never closed: the assertions below say so
            return before, after, read, code

    before, after, read, code = asyncio.run(scenario())

    print(
        f"\nA client that stopped reading during {SLOW_CLIENT_WRITES} writes of 8 KB rows: "
        f"it read {read} events before the close; the server's memory went from {before:.1f} to "
        f"{after:.1f} MiB"
    )
    assert after - before < MEMORY_BOUND_MIB
    assert code == 4409
    assert read < SLOW_CLIENT_WRITES


def server_pid(base_url: str) -> int:
    """The Python process serving `base_url` (not the `uv run` in front of it)."""
    port = base_url.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in arguments and port.encode() in arguments and b"uv" not in arguments[0]:
            return int(cmdline.parent.name)
    raise AssertionError(f"no server process on port {port}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_a_server_stops_while_its_feed_waits_on_the_database(
    postgres: None, project: Project, tmp_path: Path
) -> None:
    """SIGTERM lands while the feed's read waits on a lock: the cancel reaches the feed inside
    the driver's call, and the process must still exit rather than retry the read forever."""
    log = tmp_path / "server.log"
    with throwaway_database() as database_url:
        name = database_url.rsplit("/", 1)[1]
        env = {"DATABASE_URL": database_url}
        project.run("alembic", "upgrade", "head", env=env)
        with served(project, env=env, log=log) as base_url:
            pid = server_pid(base_url)
            token = superuser_tokens(project, base_url)["access_token"]
            stopped_in = asyncio.run(subscribe_then_stop(base_url, token, name, pid))
    print(f"\nA server whose feed waited on a lock exited {stopped_in:.2f} s after SIGTERM")
    assert "Traceback" not in log.read_text(), log.read_text()
    assert "Application shutdown complete" in log.read_text(), log.read_text()


async def subscribe_then_stop(base_url: str, token: str, database: str, pid: int) -> float:
    """Subscribe, lock the events, wake the feed into a read that waits for the lock, then
    SIGTERM the server; the seconds it took to exit."""
    try:
        async with connect(socket_url(base_url)) as ws:
            assert (await subscribe(ws, token))["type"] == "ready"
            with locked("LOCK TABLE change_events IN ACCESS EXCLUSIVE MODE", database=database):
                psql("SELECT pg_notify('change_events', '')", database=database)
                wait_for_session(f"datname = '{database}' AND wait_event_type = 'Lock'")
                os.kill(pid, signal.SIGTERM)
                stopping = time.monotonic()
                deadline = stopping + STOP_BOUND_SECONDS
                while Path(f"/proc/{pid}").exists():
                    message = f"no exit after SIGTERM within {STOP_BOUND_SECONDS:g} s"
                    assert time.monotonic() < deadline, message
                    await asyncio.sleep(0.05)
                return time.monotonic() - stopping
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
