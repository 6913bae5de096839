"""The scripts copier runs around an update (hooks/, wired in copier.yml's `_migrations`).

`after_update.py` writes the revision that every schema change needs: test_schema_evolution.py
follows it through each kind of change. Here: `before_update.py` stops an update that would end
half done, before anything is written.
"""

from pathlib import Path

import pytest

from .conftest import UNDER_TEST, commit_all, copier_update, generated_project, git

pytestmark = pytest.mark.slow


def test_an_update_of_a_history_with_two_heads_is_refused_before_writing(
    template_repo: Path, tmp_path: Path
) -> None:
    project = generated_project(template_repo, tmp_path / "project", UNDER_TEST)
    # A revision of ours beside the template's: two heads, so no one place to append to.
    project.run("alembic", "revision", "-m", "ours", "--head", "create_users", "--splice")
    commit_all(project, "our branch of the history")

    result = copier_update(
        project, UNDER_TEST, "--data", "resources=tag name:str(30)", succeeds=False
    )

    assert "the migrations have 2 heads" in result.stderr
    assert "alembic merge heads" in result.stderr
    assert git("status", "--porcelain", cwd=project.path) == ""
