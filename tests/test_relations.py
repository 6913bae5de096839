"""The graph sample's references, rules and list queries, over HTTP against a served render."""

from pathlib import Path

import pytest

from .conftest import Project, sample_project
from .relations import relations_session
from .samples import sample
from .server import served

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, sample("graph"))


def test_a_client_drives_references_rules_and_queries(project: Project, tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'graph.db'}"
    env = {"DATABASE_URL": database_url}
    project.run("alembic", "upgrade", "head", env=env)
    credentials = project.env
    with served(project, env=env, log=tmp_path / "server.log") as base_url:
        transcript = relations_session(
            base_url, credentials["FIRST_SUPERUSER_EMAIL"], credentials["FIRST_SUPERUSER_PASSWORD"]
        )
    # Kept beside the test's other files, for a person to read.
    (tmp_path / "session.txt").write_text("\n".join(transcript.lines) + "\n")
    assert len(transcript.lines) > 40
