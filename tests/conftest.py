import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .postgres import require_postgres
from .samples import Sample

TEMPLATE = Path(__file__).resolve().parent.parent
# What the suite leaves for a person to look at (screenshots, figures, transcripts); git ignores it.
ARTIFACTS = TEMPLATE / "tests" / "artifacts"

# uv here cannot download Pythons: it must find the pyenv ones, all of them.
ENV = {
    # The suite's own environment is not the rendered projects': uv would warn in their output.
    **{name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"},
    "UV_PYTHON_DOWNLOADS": "never",
    "PYENV_VERSION": "3.11.7:3.12.1:3.13.0",
    # The suite commits to throwaway repositories; CI machines may have no git identity.
    "GIT_AUTHOR_NAME": "fireup tests",
    "GIT_AUTHOR_EMAIL": "tests@fireup.invalid",
    "GIT_COMMITTER_NAME": "fireup tests",
    "GIT_COMMITTER_EMAIL": "tests@fireup.invalid",
}


NOT_SOURCE = {".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__"}


MIGRATIONS = "migrations/versions/"


def source_files(root: Path) -> dict[str, str]:
    """The text of every file a user would commit, by relative path: no git, venv or caches."""
    return {
        str(path.relative_to(root)): path.read_text()
        for path in root.rglob("*")
        if path.is_file() and not NOT_SOURCE & set(path.relative_to(root).parts)
    }


@dataclass(frozen=True)
class Project:
    path: Path
    answers: dict[str, object]

    @property
    def slug(self) -> str:
        return str(self.answers["project_slug"])

    @property
    def env(self) -> dict[str, str]:
        """The project's `.env` as a dict, the way its settings read it."""
        lines = (self.path / ".env").read_text().splitlines()
        pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
        return dict(pairs)

    def run(
        self, *command: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project's environment; a failure fails the test with its output."""
        result = run(["uv", "run", "--frozen", *command], cwd=self.path, env=env, timeout=timeout)
        output = f"{result.stdout}\n{result.stderr}"
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
        return result


def run(
    command: list[str],
    cwd: Path,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run a command with the suite's environment; its standard input is `stdin`, never a
    terminal, as in CI: commands that would ask must say what to do instead.

    A command that outlives `timeout` is killed with everything it started: `uv run` leaves
    its child running when killed alone, and a hung child would weigh on the tests after it.
    """
    with subprocess.Popen(
        command,
        cwd=cwd,
        env={**ENV, **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    ) as process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except BaseException:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def copier_copy(
    destination: Path, answers: dict[str, str], template: Path = TEMPLATE, ref: str = "HEAD"
) -> subprocess.CompletedProcess[str]:
    """Render the template at `ref` (HEAD includes uncommitted changes) with these answers."""
    data = [argument for key, value in answers.items() for argument in ("--data", f"{key}={value}")]
    command = ["copier", "copy", "--defaults", "--vcs-ref", ref, *data, str(template)]
    command.append(str(destination))
    return run(command, cwd=destination.parent, timeout=120)


def render(
    destination: Path, answers: dict[str, str], template: Path = TEMPLATE, ref: str = "HEAD"
) -> Project:
    result = copier_copy(destination, answers, template, ref)
    assert result.returncode == 0, result.stderr
    answers_file = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    return Project(destination, answers_file)


def git(*arguments: str, cwd: Path) -> str:
    result = run(["git", *arguments], cwd=cwd)
    assert result.returncode == 0, f"git {' '.join(arguments)}: {result.stderr}"
    return result.stdout


def install(project: Project) -> None:
    """Lock and install the project as its README says, sharing uv's cache between samples.

    Bytecode is compiled once here: each of the many processes the tests start in the project
    would otherwise compile its imports from source where bytecode is not written
    (PYTHONDONTWRITEBYTECODE), about 2.5 s of a 5 s start here."""
    result = run(["uv", "sync", "--compile-bytecode"], cwd=project.path, timeout=600)
    assert result.returncode == 0, result.stderr


RELEASE_COMMITS = {
    release["version"]: release["commit"]
    for release in yaml.safe_load((TEMPLATE / "releases.yml").read_text())
}
UNDER_TEST = "999.0.0"
NEXT = "999.1.0"


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository with each release tagged, and the working tree as UNDER_TEST."""
    path = tmp_path_factory.mktemp("template") / "fireup"
    git("clone", "--quiet", str(TEMPLATE), str(path), cwd=path.parent)
    for version, commit in RELEASE_COMMITS.items():
        git("tag", "--force", version, commit, cwd=path)
    git("rm", "-r", "--quiet", ".", cwd=path)
    files = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=TEMPLATE).split("\n")
    for name in filter(None, files):
        if (TEMPLATE / name).is_file():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, path / name)
    git("add", "--all", cwd=path)
    git("commit", "--quiet", "--allow-empty", "-m", "working tree under test", cwd=path)
    git("tag", UNDER_TEST, cwd=path)
    return path


def commit_all(project: Project, message: str) -> None:
    git("add", "--all", cwd=project.path)
    git("commit", "--quiet", "-m", message, cwd=project.path)


def copier_update(
    project: Project, ref: str, *options: str, succeeds: bool = True
) -> subprocess.CompletedProcess[str]:
    """`copier update` to `ref`, keeping the answers; `succeeds` says how it must end."""
    command = ["copier", "update", "--defaults", "--trust", "--vcs-ref", ref, *options]
    result = run(command, cwd=project.path, timeout=300)
    # copier exits 0 even when it leaves conflicts: callers check for them.
    assert (result.returncode == 0) == succeeds, f"{result.stdout}\n{result.stderr}"
    return result


def generated_project(
    template_repo: Path, destination: Path, ref: str, answers: dict[str, str] | None = None
) -> Project:
    project = render(destination, answers or {}, template=template_repo, ref=ref)
    git("init", "--quiet", cwd=project.path)
    install(project)
    commit_all(project, f"generated from fireup {ref}")
    return project


@pytest.fixture(scope="session")
def shared_samples(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder that every xdist worker of the run shares: samples are installed there once."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "shared-samples"


def sample_project(folder: Path, sample: Sample) -> Project:
    """`sample`, rendered and installed in `folder` once for the whole run, for every test and
    worker that asks: the first renders it while the others wait on its lock. Tests must leave
    its files as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    path, installed = folder / sample.name, folder / f"{sample.name}.installed"
    with (folder / f"{sample.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            shutil.rmtree(path, ignore_errors=True)
            install(render(path, sample.answers))
            installed.touch()
    return Project(path, yaml.safe_load((path / ".copier-answers.yml").read_text()))


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("samples")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> None:
    """The shared PostgreSQL server answers (tests/postgres.py)."""
    require_postgres()


def sqlite_env(database: Path) -> dict[str, str]:
    """The environment that points a rendered project at this SQLite file."""
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{database}"}


def migration_files(project: Project) -> dict[str, str]:
    """The project's revisions, by name: databases may have run each of them."""
    return {
        name: text
        for name, text in source_files(project.path).items()
        if name.startswith(MIGRATIONS)
    }
