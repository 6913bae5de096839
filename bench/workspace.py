"""Snapshot the template, render, install and migrate projects, and make PostgreSQL databases."""

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

BENCH = Path(__file__).resolve().parent
TEMPLATE = BENCH.parent
# The bench's own virtual environment: copier and py-spy come from here.
BENCH_BIN = Path(sys.executable).parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def base_env() -> dict[str, str]:
    """The caller's environment for subprocesses, less this bench's virtual environment.

    PYTHONDONTWRITEBYTECODE is dropped too: with it every process compiles every module from
    source (a 4 s boot here instead of 1.4 s), which neither a production image (bytecode compiled
    at install) nor a developer's machine (bytecode cached on first import) does.
    """
    dropped = {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    identity = {"NAME": "fireup bench", "EMAIL": "bench@example.com"}
    for role in ("AUTHOR", "COMMITTER"):
        for key, value in identity.items():
            env.setdefault(f"GIT_{role}_{key}", value)
    return env


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run a command to completion; return its wall time in seconds, or raise with its output."""
    started = time.perf_counter()
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env or base_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} exited {completed.returncode} in {cwd}:\n"
            f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
        )
    return elapsed


def git(*arguments: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=cwd, env=base_env(), capture_output=True, text=True, check=True
    ).stdout


def snapshot_template(dest: Path) -> Path:
    """Commit the template's working tree into a fresh repository at `dest`.

    Copier cannot `update` from a dirty checkout (the answers file then names a commit that does
    not exist), and this bench must not touch the template's own git state.
    """
    listing = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=TEMPLATE)
    for name in filter(None, listing.split("\0")):
        source = TEMPLATE / name
        if name.startswith("bench/") or not source.is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "--no-verify", "-m", "bench snapshot", cwd=dest)
    return dest


def one_file_template(dest: Path) -> Path:
    """A template of one question and one file, committed at `dest`: what copier costs alone."""
    (dest / "copier.yml").write_text("project_name:\n  type: str\n  default: Bench API\n")
    (dest / "README.md.jinja").write_text("# {{ project_name }}\n")
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "--no-verify", "-m", "one file", cwd=dest)
    return dest


def copier(*arguments: str | Path, cwd: Path) -> float:
    return run([BENCH_BIN / "copier", *arguments], cwd=cwd)


@dataclass(frozen=True)
class Project:
    """A rendered project; `database_url` None keeps its default (a SQLite file)."""

    path: Path
    slug: str
    database_url: str | None = None

    @property
    def bin(self) -> Path:
        return self.path / ".venv" / "bin"

    def env(self) -> dict[str, str]:
        env = {**base_env(), "ENVIRONMENT": "production"}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def dotenv(self) -> dict[str, str]:
        lines = (self.path / ".env").read_text().splitlines()
        pairs = (line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))
        return dict(pairs)


def render(template: Path, dest: Path, answers: dict[str, str], ref: str = "HEAD") -> float:
    """`copier copy` the template at git revision `ref` into `dest`; return its wall time."""
    data = [part for key, value in answers.items() for part in ("--data", f"{key}={value}")]
    return copier(
        "copy", "--quiet", "--defaults", "--vcs-ref", ref, *data, template, dest, cwd=dest.parent
    )


def update_in_place(project: Project) -> tuple[float, list[str]]:
    """Commit the project, `copier update` it to the template's HEAD; return time and conflicts."""
    git("init", "-q", cwd=project.path)
    git("add", "-A", cwd=project.path)
    git("commit", "-q", "--no-verify", "-m", "rendered", cwd=project.path)
    # --trust runs the template's update hooks (they check the migrations), as users run it.
    update = ("update", "--quiet", "--defaults", "--trust", "--vcs-ref", "HEAD")
    seconds = copier(*update, cwd=project.path)
    unmerged = git("diff", "--name-only", "--diff-filter=U", cwd=project.path).split()
    rejects = [str(path.relative_to(project.path)) for path in project.path.rglob("*.rej")]
    return seconds, unmerged + rejects


def install(project: Project) -> float:
    """`uv sync` with bytecode compiled, as a production image installs."""
    return run(["uv", "sync", "--quiet", "--compile-bytecode"], cwd=project.path, env=project.env())


def prestart(project: Project) -> float:
    """Migrate and create the first superuser, as a production deploy does before serving."""
    return run([project.bin / project.slug, "prestart"], cwd=project.path, env=project.env())


def run_tests(project: Project) -> float:
    """The project's own test suite, as its developers run it."""
    return run(["uv", "run", "--quiet", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project.path)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named database for the block; yields its SQLAlchemy (asyncpg) URL."""
    name = f"fireup_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sessions_opened(database_url: str) -> int:
    """How many sessions PostgreSQL has opened to this database so far (pg_stat_database)."""
    return asyncio.run(_sessions_opened(database_url.replace("postgresql+asyncpg", "postgresql")))


async def _sessions_opened(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
