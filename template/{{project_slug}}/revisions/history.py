"""The one place that configures, runs and reads the project's Alembic history.

`migrations/env.py`, `prestart`, `/ready`, `make-migration` and the tests all go through here, so
they migrate and compare the schema the same way.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import comparators, compare_metadata, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import ops
from alembic.script import ScriptDirectory
from alembic.util import DispatchPriority
from sqlalchemy import CheckConstraint, Connection, Dialect, Table, event
from sqlalchemy.exc import CompileError
from sqlalchemy.schema import CreateTable
from sqlalchemy.types import TypeDecorator

from ..features import METADATA

# Relative to the project root, where every command of the project runs (and the image's WORKDIR).
ALEMBIC_INI = "alembic.ini"
# A check's quoted strings and numbers (not the digits of a name).
CHECK_LITERAL = re.compile(r"'((?:[^']|'')*)'|(?<![\w.])(-?\d+(?:\.\d+)?)")
# A table renamed by a migration, as SQLAlchemy writes it (a name it quotes in double quotes).
RENAME_TABLE = re.compile(
    r'\s*ALTER\s+TABLE\s+"?(?P<old>[^"\s]+)"?\s+RENAME\s+TO\s+"?(?P<new>[^"\s]+)"?', re.IGNORECASE
)
# How SQLite's CREATE TABLE text says that the table never gives an id twice: after the key of
# its one INTEGER column, the only place where the keyword may stand.
AUTOINCREMENT = re.compile(
    r"\bPRIMARY\s+KEY(\s+(ASC|DESC))?(\s+ON\s+CONFLICT\s+\w+)?\s+AUTOINCREMENT\b", re.IGNORECASE
)


def context_options(connection: Connection) -> dict[str, Any]:
    """How migrations run and how the schema is compared with the models, on this connection."""
    return {
        "target_metadata": METADATA,
        # SQLite can only alter a table by copying it; batch mode does that for us.
        "render_as_batch": connection.dialect.name == "sqlite",
        # SQLite's connections emit BEGIN themselves (database.py), so its DDL is transactional
        # too: a run of migrations that fails leaves the database as it was.
        "transactional_ddl": True,
        "compare_server_default": True,
        # Alembic compares check constraints (enums, bounds) only when asked, by their names.
        "autogenerate_plugins": ["alembic.autogenerate.*", "alembic.ext.checkconstraint_byname"],
        "render_item": render_item,
    }


def render_item(kind: str, item: Any, context: AutogenContext) -> str | Literal[False]:
    """Write the project's own column types into revisions as the database type they store.

    A revision must run long after the code it came from has changed, so it imports nothing of
    the project's.
    """
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl_instance!r}"
    return False


def _check_values(sql: str) -> list[str]:
    """The values a check's text names, the part a database never rewrites (PostgreSQL adds
    casts and brackets around the rest, and quotes negative numbers)."""
    values = []
    for quoted, number in CHECK_LITERAL.findall(sql):
        text = quoted or number
        try:
            values.append(str(Decimal(text).normalize()))
        except InvalidOperation:
            values.append(text)
    return sorted(values)


@comparators.dispatch_for("table")
def _compare_check_values(
    context: AutogenContext,
    table_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    database_table: Table | None,
    model_table: Table | None,
) -> None:
    """A check of the same name whose values changed (an enum's, a bound): drop it, add it anew.

    Alembic's own comparison (checkconstraint_byname) adds and drops checks by name only.
    """
    if database_table is None or model_table is None or context.inspector is None:
        return
    reflected = context.inspector.get_check_constraints(table_name, schema=schema)
    database_checks = {check["name"]: check["sqltext"] for check in reflected}
    for check in model_table.constraints:
        if not isinstance(check, CheckConstraint) or check.name not in database_checks:
            continue
        old_sql = str(database_checks[check.name])
        if _check_values(old_sql) != _check_values(str(check.sqltext)):
            old = CheckConstraint(old_sql, name=check.name, table=database_table)
            table_ops.ops.append(ops.DropConstraintOp.from_constraint(old))
            table_ops.ops.append(ops.AddConstraintOp.from_constraint(check))


class SetAutoincrementOp(ops.MigrateOperation):
    """Copy SQLite tables to make them AUTOINCREMENT or not, which no ALTER TABLE changes.

    Without it SQLite gives the id of a deleted last row to the next row made; whatever still
    names the old row by its id (a token, a client's cache) then names the new one.
    """

    def __init__(self, table_names: tuple[str, ...], autoincrement: bool) -> None:
        self.table_names = table_names
        self.autoincrement = autoincrement

    def reverse(self) -> "SetAutoincrementOp":
        return SetAutoincrementOp(self.table_names, not self.autoincrement)

    def to_diff_tuple(self) -> tuple[str, tuple[str, ...], bool]:
        return ("set_sqlite_autoincrement", self.table_names, self.autoincrement)


def _is_autoincrement(table: Table) -> bool:
    return bool(table.dialect_options["sqlite"]["autoincrement"])


def _copied_as(autoincrement: bool) -> dict[str, bool]:
    """What a batch passes for SQLite's copy of a table to be AUTOINCREMENT or not.

    Alembic copies the table it reflects, and SQLAlchemy does not reflect AUTOINCREMENT.
    """
    return {"sqlite_autoincrement": True} if autoincrement else {}


def created_table_kwargs(connection: Connection, table_name: str) -> dict[str, bool]:
    """What a batch passes to copy the table as SQLite made it, AUTOINCREMENT or not."""
    if connection.dialect.name != "sqlite":
        return {}
    return _copied_as(bool(AUTOINCREMENT.search(_created_tables(connection).get(table_name, ""))))


class TableChangesAsCreated(ops.ModifyTableOps):
    """A table's changes whose batch copies the table with `table_kwargs`, not the models'.

    `make-migration` writes its renames so: they run before, and are undone after, the
    revision's own change of AUTOINCREMENT, on the table as the database had it.
    """

    def __init__(
        self, table_name: str, changes: list[ops.MigrateOperation], table_kwargs: dict[str, bool]
    ) -> None:
        super().__init__(table_name, changes)
        self.table_kwargs = table_kwargs


@comparators.dispatch_for("schema", qualifier="sqlite", priority=DispatchPriority.FIRST)
def _compare_autoincrement(
    context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: set[str | None]
) -> None:
    """Tables whose AUTOINCREMENT is not the models': Alembic compares no table options."""
    if context.connection is None:
        return
    created = _created_tables(context.connection)
    differing: dict[bool, list[str]] = {True: [], False: []}
    for table in context.sorted_tables:
        if table.name in created:
            try:
                wanted = _creates_autoincrement(table, context.connection.dialect)
            except CompileError:
                continue  # A table SQLite cannot create: Alembic's own comparison tells.
            if wanted != bool(AUTOINCREMENT.search(created[table.name])):
                differing[wanted].append(table.name)
    for autoincrement, table_names in differing.items():
        if table_names:
            upgrade_ops.ops.append(SetAutoincrementOp(tuple(table_names), autoincrement))


def _creates_autoincrement(table: Table, dialect: Dialect) -> bool:
    """Whether SQLite makes the model's table AUTOINCREMENT: the option does nothing on a key
    other than one INTEGER column."""
    return bool(AUTOINCREMENT.search(str(CreateTable(table).compile(dialect=dialect))))


def _created_tables(connection: Connection) -> dict[str, str]:
    """Each SQLite table's name and the CREATE TABLE text it was made with."""
    rows = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    return {row.name: row.sql for row in rows}


@renderers.dispatch_for(SetAutoincrementOp)
def _render_set_autoincrement(context: AutogenContext, op: SetAutoincrementOp) -> str:
    table_kwargs = {"sqlite_autoincrement": op.autoincrement}
    return (
        "# SQLite copies a table to change its AUTOINCREMENT; PostgreSQL never gives an id twice.\n"
        'if op.get_bind().dialect.name == "sqlite":\n'
        f"    for table in {op.table_names!r}:\n"
        "        with op.batch_alter_table(\n"
        f'            table, recreate="always", table_kwargs={table_kwargs!r}\n'
        "        ):\n"
        "            pass"
    )


_render_modify_table = renderers.dispatch(ops.ModifyTableOps)


@renderers.dispatch_for(ops.ModifyTableOps, replace=True)
def _render_modify_table_keeping_autoincrement(
    context: AutogenContext, op: ops.ModifyTableOps
) -> list[str]:
    """Alembic's rendering, whose batch keeps a table AUTOINCREMENT if SQLite copies it."""
    lines: list[str] = _render_modify_table(context, op)
    if isinstance(op, TableChangesAsCreated):
        kept = op.table_kwargs
    else:
        table = context.table_key_to_table.get(op.table_name)
        kept = _copied_as(table is not None and _is_autoincrement(table))
    batch = f"with op.batch_alter_table({op.table_name!r}, schema={op.schema!r})"
    if lines and lines[0].startswith(batch) and kept:
        lines[0] = f"{batch[:-1]}, table_kwargs={kept!r})" + lines[0][len(batch) :]
    return lines


@contextmanager
def foreign_keys_unenforced(connection: Connection) -> Iterator[None]:
    """On SQLite, migrate with foreign keys off; `check_foreign_keys` checks them at the end.

    SQLite changes a table by copying it and dropping the original (Alembic's batch mode), and
    dropping a table deletes its rows first: with the keys that refer to it enforced, that would
    delete their rows too (ON DELETE CASCADE) or fail. The pragma does nothing inside a
    transaction, so it is set on the driver's connection, before the migrations' transaction.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    if _set_foreign_keys(connection, "OFF") != 0:
        raise RuntimeError("SQLite migrations need a connection with no transaction open")
    try:
        yield
    finally:
        _set_foreign_keys(connection, "ON")


def _set_foreign_keys(connection: Connection, state: Literal["ON", "OFF"]) -> int:
    """Set SQLite's foreign_keys pragma; what it reads afterwards (1 on, 0 off)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={state}")
        cursor.execute("PRAGMA foreign_keys")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row else 0


@contextmanager
def id_counts_kept(connection: Connection) -> Iterator[None]:
    """On SQLite, keep what each AUTOINCREMENT table has counted to through the migrations.

    SQLite alters a table by copying it, and the copy counts on from the highest id left: the id
    of a deleted last row would be given once more. Each count is set back to what it was.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    counted = _id_counts(connection, _created_tables(connection))

    def follow_renames(_: Connection, __: Any, statement: str, *___: Any) -> None:
        # SQLite's ALTER TABLE ... RENAME TO moves a table's count to its new name.
        if (renamed := RENAME_TABLE.match(statement)) and renamed["old"] in counted:
            counted[renamed["new"]] = counted.pop(renamed["old"])

    event.listen(connection, "before_cursor_execute", follow_renames)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", follow_renames)
    tables = _created_tables(connection)
    counts = _id_counts(connection, tables)
    for table, count in counted.items():
        if AUTOINCREMENT.search(tables.get(table, "")) and counts.get(table, 0) < count:
            connection.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
            connection.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, count)
            )


def _id_counts(connection: Connection, tables: dict[str, str]) -> dict[str, int]:
    """The highest id each SQLite AUTOINCREMENT table has given (sqlite_sequence), by table."""
    if "sqlite_sequence" not in tables:
        return {}
    rows = connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence")
    return {row.name: row.seq for row in rows}


def check_foreign_keys(connection: Connection) -> None:
    """Fail the migration, before it commits, if it left rows referring to rows not there."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(
            f"the migrations would leave rows referring to rows that are not there ({len(broken)}"
            f" in {', '.join(tables)}); nothing was committed"
        )


def alembic_config(connection: Connection | None = None) -> Config:
    """The project's Alembic configuration; with a connection, migrations run on that one."""
    config = Config(ALEMBIC_INI)
    config.attributes["connection"] = connection
    return config


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate up on this connection, which has no transaction open: each run commits its own."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Migrate down on this connection, which has no transaction open, as for `upgrade`."""
    command.downgrade(alembic_config(connection), revision)


def schema_differences(connection: Connection) -> list[Any]:
    """What the models have that the database does not, and the reverse: empty when in step."""
    context = MigrationContext.configure(connection, opts=context_options(connection))
    return list(compare_metadata(context, context.opts["target_metadata"]))
