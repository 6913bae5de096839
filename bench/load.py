"""A small HTTP/1.1 keep-alive load client on uvloop: bounded in time, 127.0.0.1 only.

Each stream is a number of connections sending one kind of request back to back (or paced, for a
probe). Hand-written requests and response parsing keep the client's own cost far below httpx's,
which matters on a two-core machine where client and server share the CPU.
"""

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import uvloop

RequestFactory = Callable[[], bytes]

# A request that has not answered this long after the window closed is abandoned.
DRAIN_SECONDS = 30.0


@dataclass(frozen=True)
class Stream:
    name: str
    connections: int
    request: RequestFactory
    pause: float = 0.0  # seconds each connection waits between two requests (a paced probe)


@dataclass
class StreamResult:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, percentile: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return (
            statistics.quantiles(self.latencies, n=100, method="inclusive")[percentile - 1] * 1000
        )

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": round(self.percentile_ms(50), 2),
            "p99_ms": round(self.percentile_ms(99), 2),
            "errors": self.errors,
        }


def http_request(
    method: str,
    path: str,
    *,
    token: str | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
) -> bytes:
    """The bytes of one HTTP/1.1 request with a body as JSON or as a urlencoded form."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        lines.append("Content-Type: application/json")
    elif form is not None:
        body = urlencode(form).encode()
        lines.append("Content-Type: application/x-www-form-urlencoded")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def run_load(base_url: str, streams: list[Stream], seconds: float) -> dict[str, StreamResult]:
    """Drive every stream at once for `seconds`; count only answers that arrive in the window."""
    address = urlsplit(base_url)
    if address.hostname != "127.0.0.1" or address.port is None:
        raise ValueError(f"load is only driven against 127.0.0.1:PORT, not {base_url}")
    return uvloop.run(_load(address.hostname, address.port, streams, seconds))


async def _load(
    host: str, port: int, streams: list[Stream], seconds: float
) -> dict[str, StreamResult]:
    results = {stream.name: StreamResult(stream.name, seconds) for stream in streams}
    deadline = time.perf_counter() + seconds
    tasks = [
        asyncio.create_task(_connection(host, port, stream, deadline, results[stream.name]))
        for stream in streams
        for _ in range(stream.connections)
    ]
    _, pending = await asyncio.wait(tasks, timeout=seconds + DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return results


async def _connection(
    host: str, port: int, stream: Stream, deadline: float, result: StreamResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                writer.write(stream.request())
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer.close()
                result.errors += 1
                reader, writer = await asyncio.open_connection(host, port)
                continue
            finished = time.perf_counter()
            if finished > deadline:
                break
            if status >= 400:
                result.errors += 1
            else:
                result.latencies.append(finished - started)
            if stream.pause:
                await asyncio.sleep(stream.pause)
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response (Content-Length or chunked body); return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = head.lower()
    if b"transfer-encoding: chunked" in headers:
        await _read_chunks(reader)
        return status
    marker = headers.find(b"content-length:")
    if marker >= 0:
        end = headers.index(b"\r\n", marker)
        await reader.readexactly(int(headers[marker + len(b"content-length:") : end]))
    return status


async def _read_chunks(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return
