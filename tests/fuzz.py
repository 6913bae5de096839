"""Property-based fuzzing of a served project with schemathesis, over HTTP, bounded in examples."""

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from .conftest import ARTIFACTS, TEMPLATE, Project, run
from .server import served
from .walk import bearer, login

# Each check reads the project's own OpenAPI document: no 5xx, every status documented, every
# body as documented.
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
EXAMPLES_PER_OPERATION = 100


@dataclass(frozen=True)
class Fuzzed:
    """What one run did: operations tested, cases sent, and the failures it found."""

    operations: int
    cases: int
    failures: list[str]

    def __str__(self) -> str:
        return f"{self.operations} operations, {self.cases} cases, {len(self.failures)} failures"


def fuzz(base_url: str, report: Path, headers: dict[str, str] | None = None) -> Fuzzed:
    """Fuzz every operation of the app at `base_url`, as the holder of `headers`, or nobody."""
    command = ["st", "run", f"{base_url}/openapi.json", "--checks", CHECKS, "--no-color"]
    command += ["--phases", "examples,coverage,fuzzing", "--max-examples"]
    command += [str(EXAMPLES_PER_OPERATION), "--workers", "1", "--seed", "20261125"]
    command += ["--generation-database", "none", "--request-timeout", "10"]
    command += ["--report", "json", "--report-json-path", str(report)]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    result = run(command, cwd=TEMPLATE, timeout=600)
    summary = json.loads(report.read_text())
    failures = [
        f"{failure['code']} {failure['title']}: {', '.join(failure['operations'])}"
        for failure in summary["failures"]
    ]
    fuzzed = Fuzzed(summary["operations"]["tested"], summary["test_cases"]["generated"], failures)
    assert failures == [], f"{fuzzed}:\n{result.stdout}"
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return fuzzed


def fuzz_served(project: Project, env: dict[str, str], label: str, workdir: Path) -> None:
    """Migrate the database of `env`, serve the project on it and fuzz it with a superuser's
    access token (taken before the fuzzer can change the account), then without credentials.
    The figures go to tests/artifacts/fuzzing.txt; the server must log no traceback."""
    project.run("alembic", "upgrade", "head", env=env)
    credentials = project.env
    log = workdir / "server.log"
    with (
        served(project, env=env, log=log) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        tokens = login(
            client, credentials["FIRST_SUPERUSER_EMAIL"], credentials["FIRST_SUPERUSER_PASSWORD"]
        )
        as_superuser = fuzz(base_url, workdir / "superuser.json", bearer(tokens))
        anonymous = fuzz(base_url, workdir / "anonymous.json")
    assert "Traceback" not in log.read_text()
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "fuzzing.txt").open("a") as figures:
        figures.write(f"{label}: as superuser {as_superuser}; anonymous {anonymous}\n")
