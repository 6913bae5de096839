"""Subscribers of a rendered project's live feed (`/changes`), in one asyncio process of their own.

The bench starts this file as a child (`Subscribers`), so that the subscribers' CPU is their own
and not the bench's. The child and the bench talk in lines of JSON:

    child: {"ready": N}    once every socket has had its {"type": "ready"}
    bench: "start"         the measured window opens
    bench: "stop"          it closes; the child counts on until no event has come for a while
    child: {...}           the figures (`Delivery`), then it closes its sockets and exits

Only 127.0.0.1 is ever connected to. The access token comes in the environment, not in argv
where any process could read it.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TOKEN_VARIABLE = "BENCH_FEED_ACCESS_TOKEN"
OPEN_TIMEOUT_SECONDS = 30.0
# After "stop", the events of the writes committed last are still on their way.
DRAIN_IDLE_SECONDS = 1.0
DRAIN_MAX_SECONDS = 15.0
LAG_QUANTILES = {"p50": 0.5, "p99": 0.99, "max": 1.0}


# The child's side.


@dataclass
class Window:
    """When the measured window opened and closed (monotonic seconds), shared by every socket."""

    opened_at: float | None = None
    closed_at: float | None = None
    last_event_at: float = 0.0
    lags: list[float] = field(default_factory=list)  # seconds from created_at to receipt

    def counting(self) -> bool:
        return self.opened_at is not None


@dataclass
class Tally:
    """One socket's counts of row creations received."""

    in_window: int = 0  # between start and stop
    since_start: int = 0  # from start until the drain ends
    closed: str = ""  # the close code and reason, if the server closed the socket


async def open_subscription(url: str, token: str, resource: str) -> ClientConnection:
    """A socket that has subscribed to `resource` and had its "ready".

    permessage-deflate is negotiated, as the websockets library and browsers offer it.
    """
    socket = await connect(url, open_timeout=OPEN_TIMEOUT_SECONDS)
    await socket.send(json.dumps({"access_token": token, "resources": [resource]}))
    first = json.loads(await asyncio.wait_for(socket.recv(), OPEN_TIMEOUT_SECONDS))
    if first.get("type") != "ready":
        raise RuntimeError(f"the feed answered the subscription with {first}")
    return socket


async def listen(socket: ClientConnection, window: Window, tally: Tally) -> None:
    """Count the creations this socket receives once the window has opened, until it closes."""
    try:
        async for message in socket:
            received_at, received_wall = time.monotonic(), time.time()
            if not window.counting():
                continue
            event = json.loads(message)
            if event.get("type") != "change" or event.get("operation") != "create":
                continue
            window.last_event_at = received_at
            tally.since_start += 1
            if window.closed_at is None:
                tally.in_window += 1
            created_at = datetime.fromisoformat(event["row"]["created_at"]).timestamp()
            window.lags.append(received_wall - created_at)
    except ConnectionClosed as closed:
        tally.closed = f"{closed.rcvd.code} {closed.rcvd.reason}" if closed.rcvd else "lost"


async def drain(window: Window) -> None:
    """Wait until no event has come for DRAIN_IDLE_SECONDS, at most DRAIN_MAX_SECONDS."""
    deadline = time.monotonic() + DRAIN_MAX_SECONDS
    while time.monotonic() < deadline:
        quiet_since = max(window.last_event_at, window.closed_at or 0.0)
        if time.monotonic() - quiet_since >= DRAIN_IDLE_SECONDS:
            return
        await asyncio.sleep(0.05)


async def read_line() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


def write_line(figures: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()


async def child(url: str, resource: str, count: int) -> None:
    token = os.environ[TOKEN_VARIABLE]
    sockets = await asyncio.gather(*(open_subscription(url, token, resource) for _ in range(count)))
    window, tallies = Window(), [Tally() for _ in sockets]
    listeners = [
        asyncio.create_task(listen(socket, window, tally))
        for socket, tally in zip(sockets, tallies, strict=True)
    ]
    write_line({"ready": len(sockets)})
    await _expect("start")
    cpu_at_start, opened_at = time.process_time(), time.monotonic()
    window.opened_at = opened_at
    await _expect("stop")
    window.closed_at = time.monotonic()
    cpu_seconds = time.process_time() - cpu_at_start
    await drain(window)
    write_line(_child_figures(window, tallies, window.closed_at - opened_at, cpu_seconds))
    await asyncio.gather(*(socket.close() for socket in sockets))
    await asyncio.gather(*listeners)


async def _expect(word: str) -> None:
    line = await read_line()
    if line != word:
        raise RuntimeError(f"expected {word!r} from the bench, read {line!r}")


def _child_figures(
    window: Window, tallies: list[Tally], seconds: float, cpu_seconds: float
) -> dict[str, Any]:
    lags = sorted(window.lags)
    return {
        "window_seconds": seconds,
        "in_window": [tally.in_window for tally in tallies],
        "since_start": [tally.since_start for tally in tallies],
        "closed": [tally.closed for tally in tallies if tally.closed],
        "lag_seconds": {name: _quantile(lags, share) for name, share in LAG_QUANTILES.items()},
        "cpu_seconds": cpu_seconds,
    }


def _quantile(ordered: list[float], share: float) -> float:
    """The nearest-rank quantile of sorted figures (NaN when there are none)."""
    if not ordered:
        return float("nan")
    return ordered[round(share * (len(ordered) - 1))]


# The bench's side.


@dataclass(frozen=True)
class Delivery:
    """What the subscribers received in one window, summed up for the report."""

    subscribers: int
    window_seconds: float
    in_window: list[int]  # creations each socket received between start and stop
    since_start: list[int]  # and from start until the drain ended
    closed: list[str]  # close code and reason of each socket the server closed
    lag_seconds: dict[str, float]  # from a row's created_at to its receipt, by LAG_QUANTILES
    cpu_seconds: float  # the subscribers' process, in the window

    def summary(self, rows_created: int) -> dict[str, float]:
        received = sorted(self.since_start)
        events = sum(self.in_window)
        return {
            "subscribers": self.subscribers,
            "events_per_second": round(events / self.window_seconds, 1),
            "events_per_second_per_subscriber": round(
                events / self.window_seconds / self.subscribers, 1
            ),
            "rows_created": rows_created,
            "fraction_received_min": round(received[0] / max(rows_created, 1), 4),
            "fraction_received_median": round(
                received[len(received) // 2] / max(rows_created, 1), 4
            ),
            **{
                f"lag_{name}_ms": round(seconds * 1000, 2)
                for name, seconds in self.lag_seconds.items()
            },
            "subscribers_closed_by_server": len(self.closed),
            "client_cpu_cores_busy": round(self.cpu_seconds / self.window_seconds, 2),
        }


class Subscribers:
    """`count` sockets subscribed to `resource` for the block, in a child process.

    `start()` opens the measured window and `stop()` closes it and returns what was received.
    """

    def __init__(self, url: str, token: str, resource: str, count: int, log: Path) -> None:
        address = urlsplit(url)
        if address.hostname != "127.0.0.1" or address.port is None:
            raise ValueError(f"subscribers only connect to 127.0.0.1:PORT, not {url}")
        self._command = [sys.executable, __file__, url, resource, str(count)]
        self._env = {**os.environ, TOKEN_VARIABLE: token}
        self._log = log
        self._count = count
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> "Subscribers":
        with self._log.open("a") as errors:
            self._process = subprocess.Popen(
                self._command,
                env=self._env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        ready = self._read()
        if ready.get("ready") != self._count:
            raise RuntimeError(f"the subscribers said {ready}; see {self._log}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process = self._running()
        # Ends a child still waiting for "start" or "stop", the block having failed.
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=OPEN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def start(self) -> None:
        self._write("start")

    def stop(self) -> Delivery:
        self._write("stop")
        figures = self._read()
        return Delivery(subscribers=self._count, **figures)

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("the subscribers have not been started")
        return self._process

    def _write(self, word: str) -> None:
        stdin = self._running().stdin
        assert stdin is not None
        stdin.write(word + "\n")
        stdin.flush()

    def _read(self) -> dict[str, Any]:
        stdout = self._running().stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the subscribers exited early; see {self._log}")
        figures: dict[str, Any] = json.loads(line)
        return figures


if __name__ == "__main__":
    asyncio.run(child(sys.argv[1], sys.argv[2], int(sys.argv[3])))
