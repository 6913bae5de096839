"""`copier update` from every release to the working tree merges cleanly and keeps user work."""

import sqlite3
from pathlib import Path

import pytest
import yaml

from .conftest import (
    MIGRATIONS,
    NEXT,
    RELEASE_COMMITS,
    UNDER_TEST,
    Project,
    commit_all,
    copier_update,
    generated_project,
    git,
    migration_files,
    render,
    run,
    source_files,
    sqlite_env,
)
from .samples import DEFAULT_RESOURCES, EVERY_TYPE_RESOURCES

pytestmark = pytest.mark.slow

USER_ROUTE = '''

@router.get("/{book_id}/label")
async def read_book_label(book_id: int, books: BookServiceDep) -> dict[str, str]:
    """Our own endpoint, which template updates must keep."""
    book = await books.get(book_id)
    return {"label": book.title.upper()}
'''
USER_NOTE = "Run by the shelf team; our runbook lives in docs/runbook.md.\n\n"
ADDED_RESOURCE = "category name:str(50):unique"


def with_user_note(readme: str) -> str:
    """The README with the user's line under its title, where template releases leave it be."""
    title, rest = readme.split("\n\n", 1)
    return f"{title}\n\n{USER_NOTE}{rest}"


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
    database = tmp_path / "rows.db"
    project.run("alembic", "upgrade", "head", env=sqlite_env(database))
    insert_rows(database)
    migrations = migration_files(project)

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
    # Migrations are the project's history, not the template's: compared below, not here.
    expected = without_migrations(source_files(fresh.path))
    expected.pop(".env")
    expected[f"{project.slug}/book/routes.py"] += USER_ROUTE
    expected["README.md"] = with_user_note(expected["README.md"])
    updated = without_migrations(source_files(project.path))
    updated.pop(".env")
    updated.pop("uv.lock")
    assert sorted(updated) == sorted(expected)
    assert [name for name in expected if updated[name] != expected[name]] == []

    after = migration_files(project)
    assert {name: after.get(name) for name in migrations} == migrations
    project.run("alembic", "upgrade", "head", env=sqlite_env(database))
    project.run("alembic", "check", env=sqlite_env(database))
    assert count_rows(database) == {"users": 1, "books": 2, "categories": 1}
    assert tables_giving_ids_again(database) == []
    project.run("ruff", "check", ".")
    project.run("ruff", "format", "--check", ".")
    project.run("mypy", ".")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


@pytest.mark.parametrize("release", RELEASE_COMMITS)
def test_migrations_a_release_rendered_are_rendered_the_same_today(
    release: str, template_repo: Path, tmp_path: Path
) -> None:
    """Databases of new copies ran what each release rendered: today's template renders those
    files byte for byte, and brings its own schema changes as revisions of their own."""
    answers = {"resources": f"{DEFAULT_RESOURCES}; {EVERY_TYPE_RESOURCES}"}
    then, now = (
        render(tmp_path / ref, answers, template=template_repo, ref=ref)
        for ref in (release, UNDER_TEST)
    )
    shipped, today = migration_files(then), migration_files(now)

    assert {name: today.get(name) for name in shipped} == shipped


def test_a_changed_migration_is_refused_at_commit(template_repo: Path, tmp_path: Path) -> None:
    project = generated_project(template_repo, tmp_path / "project", UNDER_TEST)
    check = ["uv", "run", "--frozen", "pre-commit", "run", "migrations-are-history"]
    project.run("alembic", "revision", "-m", "a revision of our own")
    git("add", "--all", cwd=project.path)
    added = run(check, cwd=project.path)
    commit_all(project, "a revision of our own")
    books = project.path / MIGRATIONS / "create_books.py"
    books.write_text(books.read_text() + "# edited after databases ran it\n")
    git("add", "--all", cwd=project.path)

    changed = run(check, cwd=project.path)

    assert added.returncode == 0, added.stdout
    assert changed.returncode == 1, changed.stdout
    assert "migrations/versions/create_books.py" in changed.stdout


def test_add_resource_says_what_it_needs(template_repo: Path, tmp_path: Path) -> None:
    project = generated_project(template_repo, tmp_path / "project", UNDER_TEST)
    add_resource = ["uv", "run", "--frozen", project.slug, "add-resource"]

    no_spec = run(add_resource, cwd=project.path)
    existing = run([*add_resource, "book isbn:str(13)"], cwd=project.path)

    assert no_spec.returncode == 2
    assert "add-resource needs a resource" in no_spec.stderr
    assert "Traceback" not in no_spec.stderr
    assert existing.returncode == 2
    assert "'book' is already a resource" in existing.stderr
    assert "--data 'resources=" in existing.stderr
    assert git("status", "--porcelain", cwd=project.path) == ""


def without_migrations(files: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in files.items() if not name.startswith(MIGRATIONS)}


def insert_rows(database: Path) -> None:
    """Rows as a user of any release has them: a user, two books and a category."""
    stamp = "2024-01-01 00:00:00.000000"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO users (email, password_hash, is_active, is_superuser, created_at) "
            "VALUES ('reader@example.com', 'not a hash', 1, 0, ?)",
            (stamp,),
        )
        for title in ("Dune", "Emma"):
            connection.execute(
                "INSERT INTO books (owner_id, title, author, in_stock, created_at, updated_at) "
                "VALUES (1, ?, 'Someone', 1, ?, ?)",
                (title, stamp, stamp),
            )
        connection.execute(
            "INSERT INTO categories (owner_id, name, created_at, updated_at) "
            "VALUES (1, 'novels', ?, ?)",
            (stamp, stamp),
        )


def count_rows(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("users", "books", "categories")
        }


def tables_giving_ids_again(database: Path) -> list[str]:
    """Of the tables with rows, those that give the id of a deleted last row to the next row made
    (SQLite without AUTOINCREMENT). Each last row is made again, under a new id or the same."""
    giving = []
    with sqlite3.connect(database) as connection:
        for table in ("users", "books", "categories"):
            (last,) = connection.execute(f"SELECT max(id) FROM {table}").fetchone()
            connection.execute(
                f"CREATE TEMP TABLE made_again AS SELECT * FROM {table} WHERE id = ?", (last,)
            )
            connection.execute(f"DELETE FROM {table} WHERE id = ?", (last,))
            connection.execute("UPDATE made_again SET id = NULL")
            connection.execute(f"INSERT INTO {table} SELECT * FROM made_again")
            connection.execute("DROP TABLE made_again")
            (now,) = connection.execute(f"SELECT max(id) FROM {table}").fetchone()
            if now == last:
                giving.append(table)
    return giving


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
