"""The PostgreSQL answer against a real server: tests, migrations, workers under load, an outage.

The shared server is PostgreSQL on 127.0.0.1:5432 (user postgres, no password), as .ci/run starts
it. Without it these tests fail under CI=true and are skipped, loudly, anywhere else. The outage
test never stops that server: it starts a private cluster of its own on a free port.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .attacks import attack
from .conftest import TEMPLATE, Project, run, sample_project
from .fuzz import fuzz_served
from .postgres import (
    HOST,
    databases,
    locked,
    missing,
    psql,
    throwaway_database,
    url,
    wait_for_session,
)
from .relations import relations_session
from .samples import DEFAULT_RESOURCES, EVERY_TYPE_RESOURCES, GRAPH_RESOURCES, Sample, sample
from .server import free_port, served
from .walk import bearer, login, walk

pytestmark = pytest.mark.slow

# copier.yml's default resource, every field type, and a graph of references and rules.
ANSWERS = {
    "project_name": "Pg Sample",
    "database": "postgresql",
    "resources": f"{DEFAULT_RESOURCES}; {EVERY_TYPE_RESOURCES}; {GRAPH_RESOURCES}",
}
UNAVAILABLE = {"detail": "The database is unavailable; try again shortly"}
NOT_READY = {"status": "unavailable", "detail": "The database cannot be reached"}
CLIENTS = 8
CREATES_PER_CLIENT = 25


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, Sample("postgresql", ANSWERS))


def test_ruff_mypy_and_hadolint_are_clean(project: Project) -> None:
    project.run("ruff", "check", ".")
    project.run("ruff", "format", "--check", ".")
    project.run("mypy", ".")
    project.run("hadolint", "Dockerfile")


def test_own_test_suite_passes_on_a_throwaway_database(postgres: None, project: Project) -> None:
    # The URL names a development database that does not even exist: the tests only borrow its
    # server, make a database of their own there (test_<random>_<slug>) and drop it.
    development = f"fireup_development_{secrets.token_hex(4)}"
    env = {"DATABASE_URL": url(development)}
    # Only this run's: a run killed earlier on this server leaves its database behind.
    before = databases()
    result = project.run("pytest", "-q", "-p", "no:cacheprovider", env=env)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(r"\d+ passed in", summary), summary
    left = {name for name in databases() - before if name.endswith(f"_{project.slug}")}
    assert left == set()
    assert development not in databases()

    # Proof that they ran on PostgreSQL: with the server away they fail, and say why.
    unreachable = {"DATABASE_URL": url("postgres", port=free_port())}
    result = run(["uv", "run", "--frozen", "pytest", "-q", "-x"], cwd=project.path, env=unreachable)
    assert result.returncode != 0
    assert "Could not make a throwaway test database" in result.stdout


def test_migrations_build_the_schema_with_no_drift(postgres: None, project: Project) -> None:
    with throwaway_database() as database_url:
        env = {"DATABASE_URL": database_url}
        name = database_url.rsplit("/", 1)[1]
        project.run("alembic", "upgrade", "head", env=env)
        tables = set(
            psql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=name
            ).split()
        )
        assert {
            "users",
            "refresh_tokens",
            "books",
            "people",
            "blog_categories",
            "status_log",
        } <= tables
        project.run("alembic", "check", env=env)
        project.run("alembic", "downgrade", "base", env=env)
        left = psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=name)
        assert left.split() == ["alembic_version"]
        project.run("alembic", "upgrade", "head", env=env)
        project.run("alembic", "check", env=env)


def test_a_client_drives_references_rules_and_queries(
    postgres: None, project: Project, tmp_path: Path
) -> None:
    with throwaway_database() as database_url:
        env = {"DATABASE_URL": database_url}
        project.run("alembic", "upgrade", "head", env=env)
        credentials = project.env
        with served(project, env=env, log=tmp_path / "server.log") as base_url:
            transcript = relations_session(
                base_url,
                credentials["FIRST_SUPERUSER_EMAIL"],
                credentials["FIRST_SUPERUSER_PASSWORD"],
            )
    (tmp_path / "session.txt").write_text("\n".join(transcript.lines) + "\n")
    assert len(transcript.lines) > 40


def test_fuzzing_finds_no_error_and_nothing_undocumented(
    postgres: None, project: Project, tmp_path: Path
) -> None:
    with throwaway_database() as database_url:
        label = "the default, every-type and graph resources on PostgreSQL"
        fuzz_served(project, {"DATABASE_URL": database_url}, label, tmp_path)


# None: the placeholder that the tracked .env.example publishes.
WEAK_SECRETS = {
    "the published SECRET_KEY": ("SECRET_KEY", None),
    "a short SECRET_KEY": ("SECRET_KEY", "s3cr3t-but-short"),
    "a guessable SECRET_KEY": ("SECRET_KEY", "ab" * 32),
    "the published password": ("FIRST_SUPERUSER_PASSWORD", None),
    "a guessable password": ("FIRST_SUPERUSER_PASSWORD", "aaaaaaaaaaaaaaaaaaaa"),
}


@pytest.mark.parametrize("weakness", WEAK_SECRETS)
def test_production_refuses_to_start_with_a_weak_secret(project: Project, weakness: str) -> None:
    setting, value = WEAK_SECRETS[weakness]
    if value is None:
        example = (project.path / ".env.example").read_text().splitlines()
        value = next(line.split("=", 1)[1] for line in example if line.startswith(f"{setting}="))
    env = {"ENVIRONMENT": "production", setting: value}

    result = run(["uv", "run", "--frozen", project.slug, "serve"], cwd=project.path, env=env)

    assert result.returncode == 2, result.stdout
    assert setting in result.stderr
    assert "Traceback" not in result.stderr


def test_production_starts_with_the_generated_secrets_and_logs_json_lines(
    postgres: None, project: Project, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with throwaway_database() as database_url:
        env = {"ENVIRONMENT": "production", "DATABASE_URL": database_url}
        project.run("alembic", "upgrade", "head", env=env)
        with served(project, env=env, log=log) as base_url:
            health = httpx.get(f"{base_url}/health", headers={"X-Request-ID": "probe-1"})
            books = httpx.get(f"{base_url}/books")
    assert health.status_code == 200
    assert "max-age" in health.headers["strict-transport-security"]

    # Every line the server wrote is one JSON object; each request has one access line.
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    access = {
        line["request_id"]: line for line in lines if line["logger"] == f"{project.slug}.access"
    }
    assert health.headers["x-request-id"] == "probe-1"
    assert access["probe-1"].items() >= {"method": "GET", "path": "/health", "status": 200}.items()
    assert access[books.headers["x-request-id"]]["status"] == 401
    assert isinstance(access["probe-1"]["duration_ms"], float)
    assert any(line["message"] == "Application startup complete." for line in lines)


def test_workers_share_the_database_under_a_burst(
    postgres: None, project: Project, tmp_path: Path
) -> None:
    """Two workers start at once on a migrated database, then take concurrent creates."""
    with throwaway_database() as database_url:
        name = database_url.rsplit("/", 1)[1]
        env = {"DATABASE_URL": database_url}
        project.run("alembic", "upgrade", "head", env=env)
        # No prestart: both workers find no superuser at startup and race to create it.
        log = tmp_path / "server.log"
        email, password = (
            project.env["FIRST_SUPERUSER_EMAIL"],
            project.env["FIRST_SUPERUSER_PASSWORD"],
        )
        with served(project, "--workers", "2", env=env, log=log) as base_url:
            wait_for_workers(log, 2)
            assert psql("SELECT count(*) FROM users WHERE is_superuser", database=name) == "1"
            walked = walk(base_url, email, password, ANSWERS["resources"])
            assert len(walked) == len(ANSWERS["resources"].split(";"))
            assert len(attack(base_url, project.env)) > len(walked) + 20

            statuses, created = burst(base_url, email, password)
            rows = psql("SELECT count(*) FROM books WHERE title LIKE 'burst %'", database=name)
        text = log.read_text()
    assert [code for code in statuses if code >= 500] == []
    assert statuses == [201] * (CLIENTS * CREATES_PER_CLIENT), sorted(set(statuses))
    assert int(rows) == len(created) == len(set(created)) == CLIENTS * CREATES_PER_CLIENT
    assert "Could not ensure the first superuser" not in text
    assert "Traceback" not in text
    assert "died" not in text, text


READS = 20


def test_reads_run_outside_a_transaction(postgres: None, project: Project, tmp_path: Path) -> None:
    """A GET sends no BEGIN and no ROLLBACK around its statements: two round trips it saves."""
    book = {"title": "Read", "author": "Reader", "in_stock": True}
    with throwaway_database() as database_url:
        name = database_url.rsplit("/", 1)[1]
        env = {"DATABASE_URL": database_url}
        project.run("alembic", "upgrade", "head", env=env)
        credentials = project.env["FIRST_SUPERUSER_EMAIL"], project.env["FIRST_SUPERUSER_PASSWORD"]
        before = rollbacks_reported(name)
        with (
            served(project, env=env, log=tmp_path / "server.log") as base_url,
            httpx.Client(base_url=base_url) as client,
        ):
            headers = bearer(login(client, *credentials))
            created = client.post("/books", json=book, headers=headers)
            assert created.status_code == 201, created.text
            for _ in range(READS):
                assert client.get(f"/books/{created.json()['id']}", headers=headers).is_success
                assert client.get("/books", params={"limit": 5}, headers=headers).is_success
        # Two per GET if they ran in transactions; the start and the login may have a few.
        assert rollbacks_reported(name) - before < READS


def rollbacks_reported(database: str) -> int:
    """The database's rolled back transactions, once its sessions have ended: a session reports
    its own when it ends, not as it goes."""
    deadline = time.monotonic() + 15
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    while psql(sessions, database=database) != "1":
        assert time.monotonic() < deadline, f"sessions still open on {database} after 15 s"
        time.sleep(0.1)
    query = "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()"
    return int(psql(query, database=database))


REFRESH_TRIALS = 20
REFRESH_RACERS = 10


def test_a_refresh_token_is_exchanged_once_under_concurrency(
    postgres: None, project: Project, tmp_path: Path
) -> None:
    """Ten clients refresh one token at once against two workers, twenty times: one wins each."""
    with throwaway_database() as database_url:
        env = {"DATABASE_URL": database_url}
        project.run(project.slug, "prestart", env=env)
        email, password = (
            project.env["FIRST_SUPERUSER_EMAIL"],
            project.env["FIRST_SUPERUSER_PASSWORD"],
        )
        log = tmp_path / "server.log"
        with served(project, "--workers", "2", env=env, log=log) as base_url:
            wait_for_workers(log, 2)
            trials = [race_refreshes(base_url, email, password) for _ in range(REFRESH_TRIALS)]
        text = log.read_text()
    assert "Traceback" not in text, text
    assert [sorted(statuses) for statuses in trials] == [
        [200] + [401] * (REFRESH_RACERS - 1)
    ] * REFRESH_TRIALS


def race_refreshes(base_url: str, email: str, password: str) -> list[int]:
    """Log in, then POST the refresh token from REFRESH_RACERS threads at once: their statuses."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        body = {"refresh_token": login(client, email, password)["refresh_token"]}
    start = threading.Barrier(REFRESH_RACERS)

    def racer(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            http.get("/health")  # connect before the start line
            start.wait(timeout=30)
            return http.post("/auth/refresh", json=body).status_code

    with ThreadPoolExecutor(REFRESH_RACERS) as pool:
        return list(pool.map(racer, range(REFRESH_RACERS), timeout=60))


def wait_for_workers(log: Path, workers: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.read_text().count("Application startup complete") >= workers:
            return
        time.sleep(0.1)
    raise AssertionError(f"{workers} workers did not start:\n{log.read_text()}")


def burst(base_url: str, email: str, password: str) -> tuple[list[int], list[int]]:
    """CLIENTS users at once, each with its own connection, POST CREATES_PER_CLIENT books.

    Returns every status code and the ids of the books created. Bounded: 10 s a request.
    """
    with httpx.Client(base_url=base_url, timeout=10) as admin:
        headers = bearer(login(admin, email, password))
        users = []
        for number in range(CLIENTS):
            body = {"email": f"burst{number}@example.com", "password": "a burst of creates"}
            response = admin.post("/users", json=body, headers=headers)
            assert response.status_code == 201, response.text
            users.append(body)
    start = threading.Barrier(CLIENTS)

    def client(user: dict[str, str]) -> list[tuple[int, int | None]]:
        results = []
        with httpx.Client(base_url=base_url, timeout=10) as http:
            headers = bearer(login(http, user["email"], user["password"]))
            start.wait(timeout=30)
            for number in range(CREATES_PER_CLIENT):
                book = {
                    "title": f"burst {user['email']} {number}",
                    "author": "load",
                    "in_stock": True,
                }
                response = http.post("/books", json=book, headers=headers)
                created = response.json()["id"] if response.status_code == 201 else None
                results.append((response.status_code, created))
        return results

    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = [
            result for results in pool.map(client, users, timeout=120) for result in results
        ]
    statuses = [status for status, _ in outcomes]
    created = [book_id for _, book_id in outcomes if book_id is not None]
    return statuses, created


@dataclass
class Cluster:
    """A PostgreSQL cluster of this test alone, in a temporary directory, on a free port."""

    directory: Path
    port: int

    @property
    def bin(self) -> Path:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version_of)
        if not versions:
            missing("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        return versions[-1].parent

    def pg(self, program: str, *arguments: str) -> None:
        # PostgreSQL refuses to run as root: root runs it as the postgres user.
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*as_postgres, str(self.bin / program), *arguments]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{program} {arguments}: {result.stdout}{result.stderr}"

    def init(self) -> None:
        self.pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} -c fsync=off"
        log = str(self.directory / "server.log")
        self.pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    @property
    def data(self) -> Path:
        return self.directory / "data"


def version_of(pg_ctl: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", pg_ctl.parent.parent.name))


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: the postgres user must be able to enter the directory.
    directory = Path(tempfile.mkdtemp(prefix="fireup-outage-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = Cluster(directory, free_port())
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def timed(
    client: httpx.Client, method: str, path: str, **options: Any
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.request(method, path, **options)
    return response, time.monotonic() - started


def test_outage_answers_503_and_recovers_without_a_restart(
    postgres: None, project: Project, cluster: Cluster, tmp_path: Path
) -> None:
    psql("CREATE DATABASE app", port=cluster.port)
    ready_timeout = 1.0
    env = {
        "DATABASE_URL": url("app", port=cluster.port),
        "READY_TIMEOUT_SECONDS": str(ready_timeout),
        "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
    }
    project.run(project.slug, "prestart", env=env)
    log = tmp_path / "server.log"
    email, password = project.env["FIRST_SUPERUSER_EMAIL"], project.env["FIRST_SUPERUSER_PASSWORD"]
    book = {"title": "outage", "author": "someone", "in_stock": False}
    with (
        served(project, "--workers", "2", env=env, log=log) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        wait_for_workers(log, 2)
        headers = bearer(login(client, email, password))
        assert client.get("/ready").json() == {"status": "ready"}
        book_id = client.post("/books", json=book, headers=headers).json()["id"]

        # A query in flight when the server goes down: cut off mid-statement, still a 503.
        lock = f"SELECT id FROM books WHERE id = {book_id} FOR UPDATE"
        with locked(lock, database="app", port=cluster.port), ThreadPoolExecutor(1) as pool:
            blocked = pool.submit(
                httpx.patch,
                f"{base_url}/books/{book_id}",
                json={"title": "blocked"},
                headers=headers,
                timeout=10,
            )
            wait_for_session("wait_event_type = 'Lock'", port=cluster.port)
            cluster.stop()
            response = blocked.result(timeout=15)
        assert (response.status_code, response.json()) == (503, UNAVAILABLE)

        # While it is down: 503 with the JSON body, fast, from both workers.
        for _ in range(6):
            response, elapsed = timed(client, "GET", "/ready")
            assert (response.status_code, response.json()) == (503, NOT_READY)
            assert elapsed < ready_timeout + 1, elapsed
            for method, path, options in [
                ("GET", "/books", {"headers": headers}),
                ("POST", "/books", {"headers": headers, "json": book}),
                ("POST", "/auth/login", {"data": {"username": email, "password": password}}),
            ]:
                response, elapsed = timed(client, method, path, **options)
                assert (response.status_code, response.json()) == (503, UNAVAILABLE), path
                assert response.headers["retry-after"] == "5"
                assert elapsed < 3, (path, elapsed)

        # Back: the same processes serve again.
        cluster.start()
        deadline = time.monotonic() + 20
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "/ready did not recover within 20 s"
            time.sleep(0.2)
        for _ in range(6):
            assert client.get("/ready").json() == {"status": "ready"}
            listed = client.get("/books", headers=headers)
            assert listed.status_code == 200, listed.text
            assert client.post("/books", json=book, headers=headers).status_code == 201

        # A restart while the app is idle leaves dead connections in both pools: checked
        # before use, they are replaced, and not a single request fails.
        cluster.stop()
        cluster.start()
        for _ in range(6):
            listed = client.get("/books", headers=headers)
            assert listed.status_code == 200, listed.text
        rows = psql("SELECT count(*) FROM books", database="app", port=cluster.port)
        assert rows == "7"
        text = log.read_text()
    # The same two workers served throughout: none died or was restarted.
    assert text.count("Application startup complete") == 2, text
    assert "died" not in text, text
    assert "Traceback" not in text, text
    assert "Database unavailable during GET /books" in text


def test_a_silent_database_answers_503_within_the_timeouts(
    project: Project, tmp_path: Path
) -> None:
    """A server that accepts connections and never answers: no request hangs past its timeout."""
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(64)
        env = {
            "DATABASE_URL": url("app", port=silent.getsockname()[1]),
            "READY_TIMEOUT_SECONDS": "1",
            "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        }
        credentials = {"username": "someone@example.com", "password": "any password at all"}
        with (
            served(project, env=env, log=tmp_path / "server.log") as base_url,
            httpx.Client(base_url=base_url, timeout=10) as client,
        ):
            response, elapsed = timed(client, "GET", "/ready")
            assert (response.status_code, response.json()) == (503, NOT_READY)
            assert elapsed < 1 + 1, elapsed
            response, elapsed = timed(client, "POST", "/auth/login", data=credentials)
            assert (response.status_code, response.json()) == (503, UNAVAILABLE)
            assert 2 <= elapsed < 2 + 1.5, elapsed
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (NAME, arguments), grouped by build stage."""
    logical = re.sub(r"\\\n\s*", " ", text)
    stages: list[list[tuple[str, str]]] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, arguments = line.partition(" ")
        if name.upper() == "FROM":
            stages.append([])
        stages[-1].append((name.upper(), arguments.strip()))
    return stages


WORKFLOW = ".github/workflows/ci.yml"


def arguments_of(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_deploy_files_are_sound(project: Project, shared_samples: Path, database: str) -> None:
    """Checked statically: the template's CI has no Docker engine to build or run them."""
    defaults = sample("defaults")
    rendered = project if database == "postgresql" else sample_project(shared_samples, defaults)
    slug = rendered.slug
    project.run("hadolint", str(rendered.path / "Dockerfile"))

    build, runtime = dockerfile_stages((rendered.path / "Dockerfile").read_text())
    assert re.fullmatch(r"python:\d+\.\d+-slim AS build", arguments_of(build, "FROM")[0])
    assert any("UV_COMPILE_BYTECODE=1" in env for env in arguments_of(build, "ENV"))
    assert any("uv sync --locked --no-dev" in command for command in arguments_of(build, "RUN"))
    assert any(copy.startswith("--from=build ") for copy in arguments_of(runtime, "COPY"))
    (user,) = arguments_of(runtime, "USER")
    assert user.split(":")[0] not in {"root", "0"}
    (healthcheck,) = arguments_of(runtime, "HEALTHCHECK")
    assert "/health" in healthcheck
    (cmd,) = arguments_of(runtime, "CMD")
    assert yaml.safe_load(cmd)[:4] == [slug, "serve", "--host", "0.0.0.0"]
    assert "--workers" in yaml.safe_load(cmd)

    ignored = (rendered.path / ".dockerignore").read_text().split()
    assert {".env", ".venv/", ".git/"} <= set(ignored)
    # Whichever database it uses now, a SQLite file left from before holds password hashes.
    assert {".env", "*.db", "*.db-wal"} <= set((rendered.path / ".gitignore").read_text().split())

    # compose.yaml and the workflow are valid by their schemas (vendored by check-jsonschema)
    # and the workflow has no finding of zizmor's: pinned actions, least permissions.
    compose_file, workflow_file = rendered.path / "compose.yaml", rendered.path / WORKFLOW
    schemas = (("vendor.compose-spec", compose_file), ("vendor.github-workflows", workflow_file))
    for schema, path in schemas:
        validated = run(["check-jsonschema", "--builtin-schema", schema, str(path)], cwd=TEMPLATE)
        assert validated.returncode == 0, validated.stdout
    audited = run(["zizmor", "--offline", "--no-progress", str(workflow_file)], cwd=TEMPLATE)
    assert audited.returncode == 0, audited.stdout
    assert "No findings to report" in audited.stdout, audited.stdout

    # What the schemas cannot tell: the order of start, and that no secret is written down.
    services = yaml.safe_load(compose_file.read_text())["services"]
    prestart, app = services["prestart"], services["app"]
    assert prestart["command"] == [slug, "prestart"]
    assert app["depends_on"] == {"prestart": {"condition": "service_completed_successfully"}}
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])
    if database == "postgresql":
        assert prestart["depends_on"] == {"db": {"condition": "service_healthy"}}
        password = services["db"]["environment"]["POSTGRES_PASSWORD"]
        assert password.startswith("${POSTGRES_PASSWORD:?"), password
    # The workflow runs the checks the README asks for.
    check = yaml.safe_load(workflow_file.read_text())["jobs"]["check"]
    steps = {step.get("run") for step in check["steps"]}
    assert {"uv run ruff check .", "uv run mypy .", "uv run pytest"} <= steps
    assert ("services" in check) == (database == "postgresql")
