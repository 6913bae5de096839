"""Boot a server process on 127.0.0.1, time its cold start and watch its memory."""

import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
import psutil

MIB = 1024 * 1024
BOOT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server: `command` gets `--port N` appended."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]


@dataclass(frozen=True)
class Server:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    base_url: str
    cold_start_seconds: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        return tree_rss_mib(self.pid)


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total = 0
    for process in _tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / MIB


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and all its descendants."""
    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(spec: ServerSpec, log: Path) -> Iterator[Server]:
    """Run the server for the block; it is yielded once /health answers 200."""
    port = free_port()
    with log.open("ab") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*spec.command, "--port", str(port)],
            cwd=spec.cwd,
            env=spec.env,
            stdout=output,
            stderr=output,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base_url, process, log)
            yield Server(spec, process, base_url, time.perf_counter() - started)
        finally:
            _stop(process)


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.perf_counter() + BOOT_TIMEOUT_SECONDS
    with httpx.Client(base_url=base_url, timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}; see {log}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.005)
    raise RuntimeError(f"server did not answer /health in {BOOT_TIMEOUT_SECONDS} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class BootFigures:
    cold_start_seconds: float
    idle_rss_mib: float


def measure_boots(spec: ServerSpec, log: Path, boots: int, settle: float = 1.0) -> BootFigures:
    """Median time from process start to the first 200, and RSS `settle` seconds after it."""
    starts: list[float] = []
    rss: list[float] = []
    for _ in range(boots):
        with serve(spec, log) as server:
            starts.append(server.cold_start_seconds)
            time.sleep(settle)
            rss.append(server.rss_mib())
    return BootFigures(statistics.median(starts), statistics.median(rss))


class Watch:
    """While the block runs: the server's peak process-tree RSS (sampled) and CPU time used."""

    def __init__(self, server: Server, interval: float = 0.05) -> None:
        self._server = server
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._cpu_at_start = 0.0
        self.peak_mib = 0.0
        self.cpu_seconds = 0.0

    def __enter__(self) -> "Watch":
        self._cpu_at_start = tree_cpu_seconds(self._server.pid)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = tree_cpu_seconds(self._server.pid) - self._cpu_at_start

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, self._server.rss_mib())
            self._stop.wait(self._interval)
