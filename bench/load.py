"""Load from wrk (a C client that costs the shared CPU far less than the servers it drives),
one wrk process per stream, its requests and figures through a Lua script: 127.0.0.1 only,
bounded in time.

wrk is Debian's `wrk` package (`apt-get install wrk`); bench/README.md says so.
"""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

# A request that has not answered this long after the window closed is counted as an error.
TIMEOUT_SECONDS = 30

# Cycles through the stream's requests, paces a probe, and prints wrk's figures as JSON.
SCRIPT = """
local requests = {%(requests)s}
local index = 0
request = function()
  index = index %% #requests + 1
  return requests[index]
end
%(delay)s
done = function(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str | None = None
    json_body: Any = None
    form: dict[str, str] | None = None

    def lua(self) -> str:
        """The request as a call of wrk.format, in Lua."""
        headers: dict[str, str] = {}
        body = ""
        if self.json_body is not None:
            body = json.dumps(self.json_body)
            headers["Content-Type"] = "application/json"
        elif self.form is not None:
            body = urlencode(self.form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        fields = ", ".join(
            f"[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers.items()
        )
        return (
            f"wrk.format({_lua_string(self.method)}, {_lua_string(self.path)}, {{{fields}}}, "
            f"{_lua_string(body) if body else 'nil'})"
        )


@dataclass(frozen=True)
class Stream:
    name: str
    connections: int
    requests: tuple[Request, ...]  # sent in turn, over and over
    pause: float = 0.0  # seconds each connection waits between two requests (a paced probe)


@dataclass(frozen=True)
class StreamResult:
    name: str
    seconds: float
    answered: int  # responses under 400, in the window
    errors: int  # status >= 400, broken connections and timeouts
    p50_ms: float
    p99_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.answered / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.answered,
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
        }


def run_load(base_url: str, streams: list[Stream], seconds: float) -> dict[str, StreamResult]:
    """Drive every stream at once for `seconds`, one wrk process each."""
    address = urlsplit(base_url)
    if address.hostname != "127.0.0.1" or address.port is None:
        raise ValueError(f"load is only driven against 127.0.0.1:PORT, not {base_url}")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (see bench/README.md)")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        processes = {
            stream.name: subprocess.Popen(
                [
                    wrk,
                    "--threads",
                    "1",
                    "--connections",
                    str(stream.connections),
                    "--duration",
                    f"{max(round(seconds), 1)}s",
                    "--timeout",
                    f"{TIMEOUT_SECONDS}s",
                    "--script",
                    str(_script(Path(folder), stream)),
                    base_url,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for stream in streams
        }
        return {name: _result(name, process, seconds) for name, process in processes.items()}


def _script(folder: Path, stream: Stream) -> Path:
    delay = f"delay = function() return {round(stream.pause * 1000)} end" if stream.pause else ""
    requests = ", ".join(request.lua() for request in stream.requests)
    path = folder / f"{stream.name}.lua"
    path.write_text(SCRIPT % {"requests": requests, "delay": delay})
    return path


def _result(name: str, process: subprocess.Popen[str], seconds: float) -> StreamResult:
    output, errors = process.communicate(timeout=seconds + TIMEOUT_SECONDS + 30)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed for {name}: {errors or output}")
    figures = json.loads(output.strip().splitlines()[-1])
    answered = figures["requests"] - figures["errors"]
    return StreamResult(
        name,
        figures["duration_us"] / 1e6,
        answered,
        figures["errors"],
        figures["p50_us"] / 1000,
        figures["p99_us"] / 1000,
    )


def _lua_string(text: str) -> str:
    """A Lua long-bracket string literal, which takes its text as it is."""
    if "]==]" in text or text.startswith("\n"):
        raise ValueError(f"cannot quote {text!r} for Lua")
    return f"[==[{text}]==]"
