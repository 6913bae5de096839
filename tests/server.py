"""Boot a rendered project as a real uvicorn process on 127.0.0.1 and wait until it answers."""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .conftest import ENV, Project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    project: Project, *arguments: str, env: dict[str, str] | None = None, log: Path
) -> Iterator[str]:
    """Run `<slug> serve` until the block ends; yield its base URL once /health answers 200."""
    port = free_port()
    command = ["uv", "run", "--frozen", project.slug, "serve", "--port", str(port), *arguments]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=project.path, env={**ENV, **(env or {})}, stdout=output, stderr=output
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, process, log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not answer /health within 60 s:\n{log.read_text()}")
