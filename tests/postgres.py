"""The shared PostgreSQL server the suite talks to, as .ci/run starts it: 127.0.0.1:5432, user
postgres, no password. Without it, tests that need it fail under CI=true and are skipped, loudly,
anywhere else.
"""

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

HOST = "127.0.0.1"
PORT = 5432


def url(database: str, port: int = PORT) -> str:
    return f"postgresql+asyncpg://postgres@{HOST}:{port}/{database}"


def psql(sql: str, *, database: str = "postgres", port: int = PORT) -> str:
    """Run one statement as postgres; return its rows, one per line, columns split by '|'."""
    command = ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", str(port)]
    command += ["-U", "postgres", "-d", database, "-c", sql]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"psql {sql!r}: {result.stderr}"
    return result.stdout.strip()


def databases() -> set[str]:
    return set(psql("SELECT datname FROM pg_database").splitlines())


def require_postgres() -> None:
    """The shared server answers, or the test fails in CI and is skipped elsewhere."""
    problem = None
    if shutil.which("psql") is None:
        problem = "psql is not installed"
    else:
        check = ["psql", "-X", "-h", HOST, "-p", str(PORT), "-U", "postgres", "-c", "SELECT 1"]
        result = subprocess.run(check, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            problem = result.stderr.strip()
    if problem is not None:
        missing(f"PostgreSQL on {HOST}:{PORT} (user postgres) cannot be reached: {problem}")


def missing(reason: str) -> NoReturn:
    """CI must have PostgreSQL: fail there; skip, loudly, anywhere else."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(f"!!! SKIPPED, NOT TESTED: {reason}")


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A database with a unique name on the shared server, dropped afterwards; yields its URL."""
    name = f"fireup_{secrets.token_hex(6)}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield url(name)
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
