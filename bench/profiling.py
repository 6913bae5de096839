"""Sample a running server with py-spy and say where its CPU time goes."""

import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workspace import BENCH_BIN

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Libraries worth naming; anything else under site-packages is "other library".
LIBRARIES = (
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "pydantic",
    "pydantic_core",
    "fastapi",
    "starlette",
    "uvicorn",
    "httptools",
    "anyio",
    "jose",
    "passlib",
    "argon2",
    "uvloop",
)


@contextmanager
def py_spy(pid: int, output: Path, seconds: float, rate: int = 200) -> Iterator[None]:
    """Record `pid` for `seconds` (collapsed stacks, without pausing it) while the block runs."""
    command = [
        str(BENCH_BIN / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--nonblocking",
        "--full-filenames",
        "--output",
        str(output),
    ]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        _, errors = recorder.communicate(timeout=seconds + 30)
        if recorder.returncode != 0:
            raise RuntimeError(f"py-spy failed: {errors.decode()[-2000:]}")


# Steps of a request, found by a function on the stack: share of samples inside each.
STEPS = {
    "dependencies": ("solve_dependencies",),
    "endpoint": ("run_endpoint_function",),
    "response model": ("serialize_response",),
    "thread pool": ("run_in_threadpool", "WorkerThread.run"),
    "ORM in greenlet": ("greenlet_spawn",),
}
# Frames in every stack of the event loop's thread, which say nothing about where time goes.
ROOTS = {"entry", "other", "uvicorn", "stdlib asyncio", "stdlib threading"}


@dataclass(frozen=True)
class Profile:
    samples: int
    expected: int  # samples one always-busy thread would have given
    self_by_component: dict[str, float]  # share of samples whose innermost frame is there
    total_by_component: dict[str, float]  # share of samples with any frame there
    steps: dict[str, float]
    top_self_functions: list[tuple[str, float]]

    def as_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "expected_samples_one_busy_thread": self.expected,
            "self_by_component": self.self_by_component,
            "total_by_component": self.total_by_component,
            "steps": self.steps,
            "top_self_functions": self.top_self_functions,
        }

    def headline(self, count: int = 6) -> str:
        parts = [
            f"{name} {share:.0%}"
            for name, share in self.total_by_component.items()
            if name not in ROOTS
        ]
        return ", ".join(parts[:count])


def summarize(collapsed: Path, app_package: str, expected: int, top: int = 12) -> Profile:
    """Shares of CPU samples by component (self and inclusive), by step, hottest functions."""
    self_components: Counter[str] = Counter()
    total_components: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_parse(frame, app_package) for frame in stack.split(";")]
        samples += count
        component, function = frames[-1]
        self_components[component] += count
        functions[f"{component}: {function}"] += count
        for seen in {component for component, _ in frames}:
            total_components[seen] += count
        for step, markers in STEPS.items():
            if any(marker in function for _, function in frames for marker in markers):
                steps[step] += count
    return Profile(
        samples,
        expected,
        _shares(self_components, samples),
        _shares(total_components, samples),
        _shares(steps, samples),
        [(name, round(count / samples, 3)) for name, count in functions.most_common(top)],
    )


def _shares(counter: Counter[str], samples: int) -> dict[str, float]:
    return {name: round(count / max(samples, 1), 3) for name, count in counter.most_common()}


def _parse(frame: str, app_package: str) -> tuple[str, str]:
    match = FRAME.match(frame)
    if match is None:
        return "other", frame
    return _component(match["file"], app_package), match["function"]


def _component(file: str, app_package: str) -> str:
    if "/.venv/bin/" in file:
        return "entry"
    if "site-packages/" in file:
        package = file.split("site-packages/", 1)[1].split("/", 1)[0]
        return package if package in LIBRARIES else "other library"
    if f"/{app_package}/" in file or file.startswith(f"{app_package}/"):
        return "app"
    if "/lib/python3" in file:
        # .../lib/python3.12/asyncio/base_events.py -> "stdlib asyncio"
        module = file.rsplit("/lib/python3", 1)[1].split("/", 2)[1]
        return f"stdlib {module.removesuffix('.py')}"
    if file.startswith("<frozen"):
        # <frozen importlib._bootstrap> -> "stdlib importlib._bootstrap"
        return f"stdlib {file.strip('<>').split()[-1]}"
    return "other"
