"""`copier update` from every release to the working tree merges cleanly and keeps user work."""

import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import TEMPLATE, Project, git, install, render, run, source_files

pytestmark = pytest.mark.slow

RELEASE_COMMITS = {
    release["version"]: release["commit"]
    for release in yaml.safe_load((TEMPLATE / "releases.yml").read_text())
}
UNDER_TEST = "999.0.0"
NEXT = "999.1.0"

USER_ROUTE = '''

@router.get("/{book_id}/label")
async def read_book_label(book_id: int, books: BookServiceDep) -> dict[str, str]:
    """Our own endpoint, which template updates must keep."""
    book = await books.get(book_id)
    return {"label": book.title.upper()}
'''
USER_NOTE = "Run by the shelf team; our runbook lives in docs/runbook.md.\n\n"
ADDED_RESOURCE = "category name:str(50):unique"


@pytest.fixture(scope="module")
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


def with_user_note(readme: str) -> str:
    """The README with the user's line under its title, where template releases leave it be."""
    title, rest = readme.split("\n\n", 1)
    return f"{title}\n\n{USER_NOTE}{rest}"


def commit_all(project: Project, message: str) -> None:
    git("add", "--all", cwd=project.path)
    git("commit", "--quiet", "-m", message, cwd=project.path)


def copier_update(project: Project, ref: str, *options: str) -> None:
    command = ["copier", "update", "--defaults", "--trust", "--vcs-ref", ref, *options]
    result = run(command, cwd=project.path, timeout=300)
    # copier exits 0 even when it leaves conflicts: callers check for them.
    assert result.returncode == 0, result.stderr


def generated_project(template_repo: Path, destination: Path, ref: str) -> Project:
    project = render(destination, {}, template=template_repo, ref=ref)
    git("init", "--quiet", cwd=project.path)
    install(project)
    commit_all(project, f"generated from fireup {ref}")
    return project


def unmerged_leftovers(project: Project) -> list[str]:
    leftovers = git("diff", "--name-only", "--diff-filter=U", cwd=project.path).split()
    for name, text in source_files(project.path).items():
        markers = any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in text.splitlines())
        if markers or name.endswith(".rej"):
            leftovers.append(name)
    return leftovers


@pytest.mark.parametrize("release", RELEASE_COMMITS)
def test_update_from_release_keeps_user_work(
    release: str, template_repo: Path, tmp_path: Path
) -> None:
    project = generated_project(template_repo, tmp_path / "project", release)
    routes = project.path / project.slug / "book" / "routes.py"
    routes.write_text(routes.read_text() + USER_ROUTE)
    readme = project.path / "README.md"
    readme.write_text(with_user_note(readme.read_text()))
    commit_all(project, "our edits")
    project.run(project.slug, "add-resource", ADDED_RESOURCE)
    commit_all(project, "add category")
    secrets = (project.path / ".env").read_text()

    copier_update(project, UNDER_TEST)

    assert unmerged_leftovers(project) == []
    assert (project.path / ".env").read_text() == secrets
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    assert answers["resources"].endswith(f"; {ADDED_RESOURCE}")
    fresh = render(
        tmp_path / "fresh",
        {key: str(value) for key, value in answers.items() if not key.startswith("_")},
        template=template_repo,
        ref=UNDER_TEST,
    )
    expected = source_files(fresh.path)
    expected.pop(".env")
    expected[f"{project.slug}/book/routes.py"] += USER_ROUTE
    expected["README.md"] = with_user_note(expected["README.md"])
    updated = source_files(project.path)
    updated.pop(".env")
    updated.pop("uv.lock")
    assert sorted(updated) == sorted(expected)
    assert [name for name in expected if updated[name] != expected[name]] == []

    install(project)
    project.run("ruff", "check", ".")
    project.run("mypy", ".")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


def test_rendering_is_deterministic_outside_env(template_repo: Path, tmp_path: Path) -> None:
    first, second = (
        source_files(render(tmp_path / name, {}, template=template_repo, ref=UNDER_TEST).path)
        for name in ("first", "second")
    )

    assert first.pop(".env") != second.pop(".env")
    assert first == second


@pytest.mark.parametrize(
    ("mode", "hook"), [("inline", "no-conflict-markers"), ("rej", "no-rej-files")]
)
def test_a_conflicting_update_is_caught_by_the_shipped_check(
    mode: str, hook: str, template_repo: Path, tmp_path: Path
) -> None:
    newer = tmp_path / "newer-template"
    git("clone", "--quiet", str(template_repo), str(newer), cwd=tmp_path)
    template_readme = newer / "template" / "README.md.jinja"
    lines = template_readme.read_text().splitlines(keepends=True)
    template_readme.write_text("".join([lines[0].rstrip() + ", by fireup\n", *lines[1:]]))
    git("commit", "--quiet", "--all", "-m", "retitle the README", cwd=newer)
    git("tag", NEXT, cwd=newer)
    project = generated_project(newer, tmp_path / "project", UNDER_TEST)
    readme = project.path / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    readme.write_text("".join(["# Our own title\n", *lines[1:]]))
    commit_all(project, "our title")

    copier_update(project, NEXT, "--conflict", mode)

    assert unmerged_leftovers(project) != []
    # As at `git commit`: the hooks check what is staged.
    git("add", "--all", cwd=project.path)
    check = run(["uv", "run", "--frozen", "pre-commit", "run", hook], cwd=project.path)
    assert check.returncode == 1, check.stdout
    assert "README.md" in check.stdout
