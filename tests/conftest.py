import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent

# uv here cannot download Pythons: it must find the pyenv ones, all of them.
ENV = {
    **os.environ,
    "UV_PYTHON_DOWNLOADS": "never",
    "PYENV_VERSION": "3.11.7:3.12.1:3.13.0",
    # The suite commits to throwaway repositories; CI machines may have no git identity.
    "GIT_AUTHOR_NAME": "fireup tests",
    "GIT_AUTHOR_EMAIL": "tests@fireup.invalid",
    "GIT_COMMITTER_NAME": "fireup tests",
    "GIT_COMMITTER_EMAIL": "tests@fireup.invalid",
}


NOT_SOURCE = {".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__"}


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
    command: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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
    """Lock and install the project as its README says, sharing uv's cache between samples."""
    result = run(["uv", "sync"], cwd=project.path, timeout=600)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("samples")
    yield path
    shutil.rmtree(path, ignore_errors=True)
