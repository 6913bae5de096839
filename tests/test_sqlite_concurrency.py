"""A served SQLite render under concurrent requests: reads do not wait for a write, and writes
from several workers take turns without "database is locked"."""

import sqlite3
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .conftest import Project, sample_project, sqlite_env
from .samples import sample
from .server import served
from .walk import bearer, login

pytestmark = pytest.mark.slow

BOOK = {"title": "Dune", "author": "Frank Herbert", "in_stock": True}
CLIENTS = 32
ROUNDS = 8


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, sample("defaults"))


def migrated(project: Project, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    database = tmp_path / "books.db"
    env = sqlite_env(database)
    project.run("alembic", "upgrade", "head", env=env)
    return database, env


def superuser_headers(project: Project, base_url: str) -> dict[str, str]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        credentials = project.env
        tokens = login(
            client, credentials["FIRST_SUPERUSER_EMAIL"], credentials["FIRST_SUPERUSER_PASSWORD"]
        )
    return bearer(tokens)


def test_reads_do_not_wait_for_a_write(project: Project, tmp_path: Path) -> None:
    database, env = migrated(project, tmp_path)
    with served(project, env=env, log=tmp_path / "server.log") as base_url:
        headers = superuser_headers(project, base_url)
        writer = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        reader = httpx.Client(base_url=base_url, headers=headers, timeout=2)
        with writer, reader, ThreadPoolExecutor(1) as pool:
            assert writer.post("/books", json=BOOK).status_code == 201
            # Another process takes the write lock: the server's next write waits for it ...
            other = sqlite3.connect(database, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            waiting = pool.submit(writer.post, "/books", json=BOOK)
            time.sleep(1)
            assert not waiting.done()
            # ... and its reads do not wait for that write.
            listed = reader.get("/books")
            read = reader.get("/books/1")
            other.rollback()
            other.close()
            written = waiting.result()
    assert written.status_code == 201, written.text
    assert listed.status_code == 200, listed.text
    assert [book["id"] for book in listed.json()["items"]] == [1]
    assert read.status_code == 200, read.text


def test_two_workers_write_and_read_at_once_without_a_refusal(
    project: Project, tmp_path: Path
) -> None:
    _, env = migrated(project, tmp_path)
    log = tmp_path / "server.log"
    with served(project, "--workers", "2", env=env, log=log) as base_url:
        headers = superuser_headers(project, base_url)

        def one_client(number: int) -> list[int]:
            statuses = []
            with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
                for round_ in range(ROUNDS):
                    created = client.post("/books", json={**BOOK, "title": f"{number}-{round_}"})
                    statuses.append(created.status_code)
                    if created.status_code != 201:
                        continue
                    path = f"/books/{created.json()['id']}"
                    statuses.append(client.patch(path, json={"in_stock": False}).status_code)
                    statuses.append(client.get(path).status_code)
                    statuses.append(client.get("/books", params={"limit": 20}).status_code)
            return statuses

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = Counter(
                status for each in pool.map(one_client, range(CLIENTS)) for status in each
            )
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            listed = client.get("/books", params={"in_stock": "false", "limit": 1}).json()

    assert statuses == {201: CLIENTS * ROUNDS, 200: 3 * CLIENTS * ROUNDS}, statuses
    assert listed["total"] == CLIENTS * ROUNDS
    assert "database is locked" not in log.read_text()
