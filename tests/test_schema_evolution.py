"""Schema changes never rewrite history: databases holding rows keep them through every change.

Each story follows one project, with a database that has rows and has run every migration, through
the changes users make: fields added, dropped, renamed and retyped, resources inserted, renamed,
removed and added with `add-resource`, references added in a cycle, and template releases, each
done the way the rendered README documents. After every step no existing revision changed, the
history has one head, the database upgrades with its rows, a fresh database built from the same
history ends with the same schema, `alembic check` is clean on both, and the app serves it. The
project's own tests pass after the steps that change most what they test (new fields, rules) and
after the last, which runs every test the earlier steps rendered on the whole history.
"""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import (
    NEXT,
    RELEASE_COMMITS,
    UNDER_TEST,
    Project,
    commit_all,
    copier_update,
    generated_project,
    git,
    migration_files,
    run,
    sqlite_env,
)
from .postgres import throwaway_database
from .server import served
from .walk import bearer, example_payload, login, resource_paths

pytestmark = pytest.mark.slow

BOOK = "book title:str(200):index author:str(120) summary:text:null price:decimal(10,2):null"
SHELF = "shelf label:str(40):unique"
INITIAL = f"{BOOK} in_stock:bool; {SHELF}"
# One optional field, and a required one of every type, which existing rows need a value for.
NEW_FIELDS = (
    "isbn:str(13):null pages:int edition:str(20) weight:decimal(6,2) rating:float featured:bool "
    "released_on:date checked_at:datetime code:uuid"
)
WITH_NEW_FIELDS = f"{BOOK} in_stock:bool {NEW_FIELDS}; {SHELF}"
# Each field's value for existing rows, as given to make-migration and as the API returns it;
# none of them is what walk.py's example payload sends, so filtering on it finds those rows only.
NEW_FIELD_DEFAULTS = {
    "pages": ("7", 7),
    "edition": ("first", "first"),
    "weight": ("1.25", "1.25"),
    "rating": ("4.5", 4.5),
    "featured": ("false", False),
    "released_on": ("2023-03-01", "2023-03-01"),
    "checked_at": ("2023-03-01T12:00:00+01:00", "2023-03-01T11:00:00Z"),
    "code": ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001"),
}
# title loses its index, author grows and gains one, summary is renamed blurb, price becomes
# required with more digits, in_stock becomes optional, isbn becomes unique, edition is dropped.
BOOK_CHANGED = (
    "book title:str(200) author:str(200):index blurb:text:null price:decimal(12,2) "
    "in_stock:bool:null isbn:str(13):null:unique pages:int weight:decimal(6,2) "
    "rating:float featured:bool released_on:date checked_at:datetime code:uuid"
)
# Rules on fields that hold rows: a bound, a min length and a new required enum; then the enum
# gains a value and the bound moves, which replaces their check constraints.
BOOK_RULED = BOOK_CHANGED.replace("pages:int", "pages:int:min=0").replace(
    "book title:str(200)", "book title:str(200):min=2 status:enum(draft,published)"
)
BOOK_RERULED = BOOK_RULED.replace("pages:int:min=0", "pages:int:min=-5").replace(
    "enum(draft,published)", "enum(draft,published,archived)"
)
PROFILE = "author_profile name:str(80)"
RACK = "rack label:str(40):unique"
TAG = "tag name:str(30):unique"
RELEASE_CHANGES = {
    "created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)": (
        "created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)"
    ),
    "onupdate=utc_now)\n": (
        "onupdate=utc_now)\n    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)\n"
    ),
}

# `alembic upgrade head` and `alembic check` on each database URL given, as the CLI runs them,
# in one process; then each database's schema, as JSON.
MIGRATE_CHECK_AND_DUMP = """
import asyncio, json, os, sys
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from {slug}.config import Settings
from {slug}.database import create_engine

def dump(connection):
    schema = inspect(connection)
    return {{
        table: {{
            "columns": sorted(
                [c["name"], str(c["type"]), c["nullable"]] for c in schema.get_columns(table)
            ),
            "indexes": sorted(
                [i["name"], i["column_names"], bool(i["unique"])] for i in schema.get_indexes(table)
            ),
            "unique": sorted(
                [u["name"], u["column_names"]] for u in schema.get_unique_constraints(table)
            ),
            "foreign_keys": sorted(
                [f["constrained_columns"], f["referred_table"]]
                for f in schema.get_foreign_keys(table)
            ),
            "checks": sorted(c["name"] for c in schema.get_check_constraints(table)),
        }}
        for table in sorted(schema.get_table_names())
    }}

async def schema_of(database_url):
    engine = create_engine(Settings(database_url=database_url))
    async with engine.connect() as connection:
        schema = await connection.run_sync(dump)
    await engine.dispose()
    return schema

schemas = []
for database_url in sys.argv[1:]:
    os.environ["DATABASE_URL"] = database_url
    command.upgrade(Config("alembic.ini"), "head")
    command.check(Config("alembic.ini"))
    schemas.append(asyncio.run(schema_of(database_url)))
print(json.dumps(schemas))
"""


@dataclass
class Story:
    """A project under change and its database, which holds rows and runs every revision."""

    project: Project
    kind: str
    database_url: str
    workdir: Path
    # Rows each resource's collection should hold, by path.
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url}

    def update(
        self, resources: str | None = None, *, ref: str = UNDER_TEST, asks: tuple[str, ...] = ()
    ) -> None:
        """`copier update` as the README says. When its hook must ask before writing a revision,
        `asks` are what the refusal must name (`--drop books.summary`, `--default books.pages=`)."""
        data = ("--data", f"resources={resources}") if resources else ()
        result = copier_update(self.project, ref, *data, succeeds=not asks)
        refusal = f"{result.stdout}\n{result.stderr}"
        assert ("nothing was written" in refusal) == bool(asks), refusal
        for decision in asks:
            assert decision in refusal, (decision, refusal)

    def decide(self, *decisions: str) -> None:
        """make-migration with the decisions (`--drop books.summary`, ...) the update asked for."""
        flags = [part for decision in decisions for part in decision.split(" ", 1)]
        self.project.run(self.project.slug, "make-migration", *flags)

    def decide_at_a_terminal(self, *answers: str) -> str:
        """Run make-migration at a terminal (`script` gives it one) and type these answers."""
        command = f"uv run --frozen {self.project.slug} make-migration"
        result = run(
            ["script", "--quiet", "--return", "--command", command, "/dev/null"],
            cwd=self.project.path,
            stdin="".join(f"{answer}\n" for answer in answers),
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        return result.stdout

    @contextmanager
    def step(self, name: str, revisions: int = 1, own_tests: bool = False) -> Iterator[None]:
        """Check everything the story promises around one change that writes `revisions`; with
        `own_tests`, the project's own tests pass too."""
        before = migration_files(self.project)
        yield
        after = migration_files(self.project)
        assert {name: after.get(name) for name in before} == before, f"{name}: history rewritten"
        written = set(after) - set(before)
        assert len(written) == revisions, (name, sorted(written))
        # SQLite's tables are AUTOINCREMENT from the story's start and every copy keeps them so;
        # PostgreSQL has no such copy.
        made_autoincrement = [file for file in written if "AUTOINCREMENT" in after[file]]
        assert made_autoincrement == [], f"{name}: a change lost AUTOINCREMENT on the way"
        heads = self.project.run("alembic", "heads").stdout.splitlines()
        assert len(heads) == 1, heads
        self.project.run("ruff", "check", ".")
        self.project.run("ruff", "format", "--check", ".")
        fresh_file = self.workdir / f"fresh-{len(after)}.db"  # every step adds a revision
        with empty_database(self.kind, fresh_file) as fresh_url:
            script = self.workdir / "migrate_check_and_dump.py"
            script.write_text(MIGRATE_CHECK_AND_DUMP.format(slug=self.project.slug))
            output = self.project.run("python", str(script), self.database_url, fresh_url).stdout
            kept, fresh = json.loads(output.splitlines()[-1])
            assert fresh == kept, name
        if own_tests:
            self.project.run("pytest", "-q", "-x", "-p", "no:cacheprovider", env=self.env)
        commit_all(self.project, name)

    @contextmanager
    def client(self) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
        """The app served on the story's database, and the first superuser's bearer header."""
        credentials = self.project.env
        log = self.workdir / "server.log"
        with (
            served(self.project, env=self.env, log=log) as base_url,
            httpx.Client(base_url=base_url, timeout=10) as client,
        ):
            tokens = login(
                client,
                credentials["FIRST_SUPERUSER_EMAIL"],
                credentials["FIRST_SUPERUSER_PASSWORD"],
            )
            yield client, bearer(tokens)

    def serve_and_add_rows(self, *tags: str) -> dict[str, list[dict[str, object]]]:
        """Over HTTP: every earlier row is listed, and each resource takes a row per tag."""
        listed = {}
        with self.client() as (client, headers):
            openapi = client.get("/openapi.json").json()
            schemas = openapi["components"]["schemas"]
            for path, schema_name in resource_paths(openapi):
                listing = client.get(path, params={"limit": 100}, headers=headers)
                assert listing.status_code == 200, (path, listing.text)
                assert listing.json()["total"] == self.rows.get(path, 0), path
                listed[path] = listing.json()["items"]
                for tag in tags:
                    payload = row_payload(schemas[schema_name], schemas, tag)
                    created = client.post(path, json=payload, headers=headers)
                    assert created.status_code == 201, (path, created.text)
                    self.rows[path] = self.rows.get(path, 0) + 1
        return listed


def row_payload(schema: dict[str, Any], schemas: dict[str, Any], tag: str) -> dict[str, object]:
    """A row that is this tag's own: its texts start with the tag (for unique fields), and an
    optional price or isbn is left null, for the changes that must fill or keep it."""
    return {
        name: f"{tag}-{value}"[: len(value)] if is_plain_text(value) else value
        for name, value in example_payload(schema, schemas).items()
        if name not in {"price", "isbn"} or name in schema.get("required", [])
    }


def is_plain_text(value: object) -> bool:
    """A text field's example (walk.py gives those a prefix of "walked"), not a date or a UUID."""
    return isinstance(value, str) and "walked".startswith(value)


@contextmanager
def empty_database(kind: str, sqlite_file: Path) -> Iterator[str]:
    """The URL of an empty database: on PostgreSQL a throwaway one, on SQLite this file."""
    if kind == "postgresql":
        with throwaway_database() as database_url:
            yield database_url
        return
    yield f"sqlite+aiosqlite:///{sqlite_file}"


@pytest.fixture(scope="module")
def released_template(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template with one more release, NEXT, whose models change every resource: an index on
    created_at and a new, optional archived_at column."""
    path = tmp_path_factory.mktemp("released") / "fireup"
    git("clone", "--quiet", str(template_repo), str(path), cwd=path.parent)
    crud = path / "template" / "{{project_slug}}" / "crud.py"
    text = crud.read_text()
    for old, new in RELEASE_CHANGES.items():
        assert old in text, f"the simulated release no longer applies to crud.py: {old}"
        text = text.replace(old, new)
    crud.write_text(text)
    git("commit", "--quiet", "--all", "-m", "index created_at, add archived_at", cwd=path)
    git("tag", NEXT, cwd=path)
    return path


# One class per database, so that the two stories run on two workers side by side.
class TestOnSQLite:
    def test_every_schema_change_appends_a_revision_and_keeps_the_rows(
        self, released_template: Path, tmp_path: Path
    ) -> None:
        tell_the_story("sqlite", UNDER_TEST, released_template, tmp_path)


class TestOnPostgreSQLFromTheOldestRelease:
    def test_every_schema_change_appends_a_revision_and_keeps_the_rows(
        self, postgres: None, released_template: Path, tmp_path: Path
    ) -> None:
        oldest = next(iter(RELEASE_COMMITS))  # releases.yml lists them oldest first
        tell_the_story("postgresql", oldest, released_template, tmp_path)


class TestSQLiteTableCopies:
    def test_a_table_copied_to_change_it_keeps_the_rows_that_refer_to_it(
        self, template_repo: Path, tmp_path: Path
    ) -> None:
        """SQLite changes a table by copying it and dropping the original: the rows that refer
        to it stay, whether their key cascades (deleted with it) or refuses (the drop fails),
        through new rules and through a new reference that closes a cycle."""
        resources = (
            "shelf label:str(40); book title:str(100) shelf:ref(shelf):cascade; loan book:ref(book)"
        )
        answers = {"project_name": "Copies", "resources": resources}
        project = generated_project(template_repo, tmp_path / "copies", UNDER_TEST, answers)
        story = Story(project, "sqlite", f"sqlite+aiosqlite:///{tmp_path / 'copies.db'}", tmp_path)
        project.run("alembic", "upgrade", "head", env=story.env)
        story.serve_and_add_rows("first", "second")
        before = story.serve_and_add_rows()

        # A min length is a check constraint, which SQLite adds by copying the table.
        ruled = resources.replace("label:str(40)", "label:str(40):min=2").replace(
            "title:str(100)", "title:str(100):min=2"
        )
        story.update(ruled)
        project.run("alembic", "upgrade", "head", env=story.env)
        commit_all(project, "rules")

        assert story.serve_and_add_rows() == before
        assert len(before["/loans"]) == 2

        # A reference that closes a cycle (books refer to shelves, shelves now to a book) is a
        # revision too, on tables that hold rows; rows take it at once.
        cycled = ruled.replace(
            "label:str(40):min=2", "label:str(40):min=2 favourite:ref(book):null"
        )
        story.update(cycled)
        project.run("alembic", "upgrade", "head", env=story.env)
        project.run("alembic", "check", env=story.env)
        story.serve_and_add_rows("cycled")
        shelves = story.serve_and_add_rows()["/shelves"]
        assert [shelf["favourite_id"] for shelf in shelves] == [None, None, 1]

    def test_a_rename_beside_a_change_of_autoincrement_goes_down_to_the_schema_before(
        self, template_repo: Path, tmp_path: Path
    ) -> None:
        """make-migration renames a column on the table as the database made it: the revision's
        downgrade, which changes AUTOINCREMENT back before it undoes the rename, then ends at
        the schema it started from."""
        answers = {"project_name": "Renames", "resources": INITIAL}
        project = generated_project(template_repo, tmp_path / "renames", UNDER_TEST, answers)
        database = tmp_path / "renames.db"
        env = sqlite_env(database)
        project.run("alembic", "upgrade", "head", env=env)
        before = created_table(database, "books")

        model = project.path / project.slug / "book" / "model.py"
        edited = model.read_text().replace("    summary:", "    blurb:")
        model.write_text(edited.replace('{"sqlite_autoincrement": True}', "{}"))
        project.run(project.slug, "make-migration", "--rename", "books.summary=blurb")
        project.run("alembic", "upgrade", "head", env=env)
        upgraded = created_table(database, "books")
        project.run("alembic", "downgrade", "-1", env=env)

        assert "AUTOINCREMENT" in before
        assert "AUTOINCREMENT" not in upgraded
        assert "blurb" in upgraded
        assert created_table(database, "books") == before


def created_table(database: Path, table: str) -> str:
    """The CREATE TABLE text SQLite keeps for the table."""
    with closing(sqlite3.connect(database)) as connection:
        created = "SELECT sql FROM sqlite_master WHERE name = ?"
        row = connection.execute(created, (table,)).fetchone()
    return str(row[0])


def tell_the_story(
    database: str, first_release: str, released_template: Path, tmp_path: Path
) -> None:
    answers = {"project_name": "Story", "database": database, "resources": INITIAL}
    project = generated_project(released_template, tmp_path / "story", first_release, answers)
    with empty_database(database, tmp_path / "story.db") as database_url:
        story = Story(project, database, database_url, tmp_path)
        project.run("alembic", "upgrade", "head", env=story.env)
        story.serve_and_add_rows("first", "second")

        if first_release != UNDER_TEST:
            # Since the oldest release the users table has gained a nullable column
            # (verification_pending_since): the update's hook appends its revision.
            with story.step(f"update from {first_release} with rows"):
                story.update()

        with story.step("add an optional field and a required one of every type", own_tests=True):
            story.update(
                WITH_NEW_FIELDS,
                asks=tuple(f"--default books.{name}=" for name in NEW_FIELD_DEFAULTS),
            )
            story.decide(
                *(
                    f"--default books.{name}={text}"
                    for name, (text, _) in NEW_FIELD_DEFAULTS.items()
                )
            )
        with story.client() as (client, headers):
            # Filters compare stored values: each default is stored as the API stores its type.
            for name, (_, value) in NEW_FIELD_DEFAULTS.items():
                found = client.get("/books", params={name: value}, headers=headers).json()
                assert found["total"] == 2, (name, found)
        books = story.serve_and_add_rows("added")["/books"]
        expected = {name: value for name, (_, value) in NEW_FIELD_DEFAULTS.items()}
        assert [{name: book[name] for name in expected} for book in books] == [expected] * 2
        assert {book["isbn"] for book in books} == {None}

        with story.step("drop, rename and retype fields"):
            changed = f"{BOOK_CHANGED}; {SHELF}"
            asked = (
                "--rename books.summary=blurb",
                "--default books.price=",
                "--drop books.edition",
            )
            story.update(changed, asks=asked)
            story.decide("--rename books.summary=blurb", "--default books.price=0", asked[2])
        books = story.serve_and_add_rows("changed")["/books"]
        assert {"first-", "second"} <= {book["blurb"] for book in books}
        assert [book for book in books if "edition" in book] == []
        assert all(Decimal(str(book["price"])) == 0 for book in books)

        with story.step("give fields rules: an enum, a bound and a min length", own_tests=True):
            story.update(f"{BOOK_RULED}; {SHELF}", asks=("--default books.status=",))
            story.decide("--default books.status=draft")
        books = story.serve_and_add_rows("ruled")["/books"]
        assert {book["status"] for book in books} == {"draft"}
        # A row's fields as a body, with no unique value of its own.
        fields = {
            key: value
            for key, value in books[0].items()
            if key not in {"id", "owner_id", "created_at", "updated_at", "isbn"}
        }
        with story.client() as (client, headers):
            no_pages = client.post("/books", json={**fields, "pages": -1}, headers=headers)
            assert no_pages.status_code == 422, no_pages.text
            assert no_pages.json()["detail"][0]["loc"] == ["body", "pages"]

        with story.step("widen the enum and move the bound"):
            story.update(f"{BOOK_RERULED}; {SHELF}")
        with story.client() as (client, headers):
            archived = {**fields, "status": "archived", "pages": -1}
            answer = client.post("/books", json=archived, headers=headers)
            assert answer.status_code == 201, answer.text
            story.rows["/books"] += 1
        story.serve_and_add_rows("reruled")

        with story.step("insert a resource first"):
            story.update(f"{PROFILE}; {BOOK_RERULED}; {SHELF}")
        story.serve_and_add_rows("inserted")

        with story.step("rename a resource"):
            story.update(f"{PROFILE}; {BOOK_RERULED}; {RACK}", asks=("--rename shelves=racks",))
            story.decide("--rename shelves=racks")
            story.rows["/racks"] = story.rows.pop("/shelves")
        story.serve_and_add_rows("renamed")

        with story.step("remove a resource, asked at a terminal"):
            story.update(f"{BOOK_RERULED}; {RACK}", asks=("--drop author_profiles",))
            session = story.decide_at_a_terminal("drop")
            assert "Table author_profiles is no longer in the models" in session
            assert "Wrote migrations/versions/" in session
            story.rows.pop("/author_profiles")
        story.serve_and_add_rows("removed")

        with story.step("references between tables holding rows, in a cycle"):
            story.update(f"{BOOK_RERULED} rack:ref(rack):null; {RACK} favourite:ref(book):null")
        referring = story.serve_and_add_rows("referring")
        assert {book["rack_id"] for book in referring["/books"]} == {None}

        with story.step("add-resource"):
            project.run(project.slug, "add-resource", TAG)
        story.serve_and_add_rows("tagged")

        with story.step("a template release that changes every resource", own_tests=True):
            story.update(ref=NEXT)
        story.serve_and_add_rows("released")
