"""Render every sample, install it, and hold it to what a user expects: clean, migrated, served."""

import re
from pathlib import Path

import pytest

from .attacks import attack
from .conftest import Project, sample_project, source_files, sqlite_env
from .fuzz import fuzz_served
from .samples import SAMPLES, Sample
from .server import served
from .walk import walk

pytestmark = pytest.mark.slow

# Not GitHub Actions' own `${{ ... }}` expressions.
RESIDUE = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#")
# Templates the project itself renders at run time (Alembic's, and the mail's Jinja ones).
RUNTIME_TEMPLATES = re.compile(r"\.mako$|/mail/templates/")


@pytest.fixture(scope="module", params=SAMPLES, ids=lambda sample: sample.name)
def project(request: pytest.FixtureRequest, shared_samples: Path) -> Project:
    sample: Sample = request.param
    return sample_project(shared_samples, sample)


def test_output_has_no_template_residue(project: Project) -> None:
    problems = []
    for name, text in source_files(project.path).items():
        if name.endswith(".jinja") or Path(name).name in {"copier.yml", "answers.jinja"}:
            problems.append(f"{name}: template file copied")
        if RESIDUE.search(text) and not RUNTIME_TEMPLATES.search(name):
            problems.append(f"{name}: Jinja residue")
        if text and ("\n\n\n\n" in text or text.startswith("\n") or not text.endswith("\n")):
            problems.append(f"{name}: stray blank lines")
        if any(line != line.rstrip() for line in text.splitlines()):
            problems.append(f"{name}: trailing whitespace")
    assert problems == []


def test_secrets_live_only_in_the_ignored_env_file(project: Project) -> None:
    env = project.env
    assert len(env["SECRET_KEY"]) == 64
    assert len(env["FIRST_SUPERUSER_PASSWORD"]) == 32
    for name, text in source_files(project.path).items():
        if name != ".env":
            assert env["SECRET_KEY"] not in text, name
            assert env["FIRST_SUPERUSER_PASSWORD"] not in text, name
    assert ".env\n" in (project.path / ".gitignore").read_text()


def test_ruff_and_mypy_are_clean(project: Project) -> None:
    project.run("ruff", "check", ".")
    project.run("ruff", "format", "--check", ".")
    project.run("mypy", ".")


def test_migrations_build_the_schema_with_no_drift(project: Project, tmp_path: Path) -> None:
    env = sqlite_env(tmp_path / "migrated.db")
    project.run("alembic", "upgrade", "head", env=env)
    project.run("alembic", "check", env=env)
    project.run("alembic", "downgrade", "base", env=env)
    project.run("alembic", "upgrade", "head", env=env)


def test_own_test_suite_passes(project: Project) -> None:
    result = project.run("pytest", "-q", "-p", "no:cacheprovider")
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(r"\d+ passed in", summary), summary


def test_served_app_walks_over_http(project: Project, tmp_path: Path) -> None:
    env = sqlite_env(tmp_path / "served.db")
    project.run("alembic", "upgrade", "head", env=env)
    credentials = project.env
    log = tmp_path / "server.log"
    with served(project, env=env, log=log) as base_url:
        walked = walk(
            base_url,
            credentials["FIRST_SUPERUSER_EMAIL"],
            credentials["FIRST_SUPERUSER_PASSWORD"],
            str(project.answers["resources"]),
        )
        attacks = attack(base_url, credentials)
    expected = len(str(project.answers["resources"]).split(";"))
    assert len(walked) == expected
    assert len(attacks) > len(walked) + 20
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize(
    "sample", [sample for sample in SAMPLES if sample.fuzzed], ids=lambda sample: sample.name
)
def test_fuzzing_finds_no_error_and_nothing_undocumented(
    sample: Sample, shared_samples: Path, tmp_path: Path
) -> None:
    project = sample_project(shared_samples, sample)
    env = sqlite_env(tmp_path / "fuzzed.db")
    fuzz_served(project, env, f"{project.path.name} on SQLite", tmp_path)
