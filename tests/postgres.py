"""The shared PostgreSQL server the suite talks to, as .ci/run starts it: 127.0.0.1:5432, user
postgres, no password. Without it, tests that need it fail under CI=true and are skipped, loudly,
anywhere else.
"""

import os
import secrets
import shutil
import subprocess
import time
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


@contextmanager
def locked(statement: str, *, database: str, port: int = PORT) -> Iterator[None]:
    """Hold the locks `statement` takes, in a transaction of another session, until the block
    ends (or the server goes away)."""
    command = ["psql", "-X", "-q", "-h", HOST, "-p", str(port), "-U", "postgres", database]
    locker = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert locker.stdin is not None
    locker.stdin.write(f"BEGIN;\n{statement};\nSELECT pg_sleep(60);\n")
    locker.stdin.flush()
    try:
        # Sleeping, it holds the locks.
        wait_for_session(f"datname = '{database}' AND wait_event = 'PgSleep'", port=port)
        yield
    finally:
        locker.kill()
        locker.wait(timeout=10)


def wait_for_session(condition: str, *, port: int = PORT) -> None:
    """Until a session of the server is in this state (a condition on pg_stat_activity)."""
    sql = f"SELECT count(*) FROM pg_stat_activity WHERE {condition}"
    deadline = time.monotonic() + 15
    while psql(sql, port=port) == "0":
        assert time.monotonic() < deadline, f"no session with {condition} within 15 s"
        time.sleep(0.1)
