"""`make-migration`: a new revision that takes the schema from the last migration to the models.

The head's schema is built on a throwaway database by running every migration, then compared with
the models, so the revision is right for every database that ran the history, whatever its rows.
Nothing that would lose data or needs a value for existing rows is written until it is decided:
a table or column gone from the models needs `--drop` (or `--rename` if it was renamed), and a
column that becomes required on an existing table needs `--default` for the rows it already has.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from uuid import UUID

from alembic import command
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from alembic.script import Script
from sqlalchemy import Column, Connection, inspect
from sqlalchemy.types import TypeDecorator

from ..config import Settings
from ..database import create_engine
from .history import (
    SetAutoincrementOp,
    TableChangesAsCreated,
    alembic_config,
    context_options,
    created_table_kwargs,
    head_revisions,
    upgrade,
)
from .scratch import scratch_database

Ask = Callable[[str], str]


class SchemaChangeError(Exception):
    """The revision cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class Decisions:
    """What the user said about changes that lose data or need values for existing rows.

    Names are `table` or `table.column`, as in the database.
    """

    drops: frozenset[str] = frozenset()
    renames: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)

    def with_answer(self, question: "Question", answer: str) -> "Decisions":
        if isinstance(question, Gone):
            if answer == "drop":
                return Decisions(self.drops | {question.name}, self.renames, self.defaults)
            return Decisions(self.drops, {**self.renames, question.name: answer}, self.defaults)
        return Decisions(self.drops, self.renames, {**self.defaults, question.name: answer})


@dataclass(frozen=True)
class Gone:
    """A table or column of the history that the models no longer have."""

    name: str
    appeared: tuple[str, ...]

    def explain(self) -> str:
        kind = "column" if "." in self.name else "table"
        new_name = self.appeared[0].split(".")[-1] if len(self.appeared) == 1 else "NEW_NAME"
        renamed = f"--rename {self.name}={new_name}"
        return (
            f"{kind} {self.name} is no longer in the models: `--drop {self.name}` drops it "
            f"with its data; if you renamed it, `{renamed}` keeps the data"
        )

    def prompt(self) -> str:
        kind = "Column" if "." in self.name else "Table"
        hint = f" (new here: {', '.join(self.appeared)})" if self.appeared else ""
        return (
            f"{kind} {self.name} is no longer in the models{hint}.\n"
            f"Type 'drop' to drop it with its data, its new name if you renamed it, "
            f"or nothing to stop: "
        )


@dataclass(frozen=True)
class NeedsValue:
    """A column that becomes required on a table that may already hold rows."""

    name: str
    column: Column[Any]
    is_new: bool

    def explain(self) -> str:
        what = "is a new required column" if self.is_new else "becomes required"
        return (
            f"column {self.name} {what}: `--default {self.name}=VALUE` gives existing rows "
            f"that value ({_type_name(self.column)})"
        )

    def prompt(self) -> str:
        what = "is a new required column" if self.is_new else "becomes required"
        return (
            f"Column {self.name} {what}. Value for the rows that already exist "
            f"({_type_name(self.column)}), or nothing to stop: "
        )


Question = Gone | NeedsValue


class UndecidedChangesError(SchemaChangeError):
    """Changes that lose data or need values for existing rows, which nobody decided yet."""

    def __init__(self, questions: list[Question]) -> None:
        self.questions = questions
        self.flags = " ".join(_flag(question) for question in questions)
        lines = [f"  - {question.explain()}" for question in questions]
        super().__init__(
            "The models change the schema in ways that need your decision before a migration "
            "is written (nothing was written):\n" + "\n".join(lines)
        )


async def make_migration(
    settings: Settings,
    decisions: Decisions,
    *,
    message: str | None = None,
    ask: Ask | None = None,
) -> Path | None:
    """Write the revision from the history's head to the models; None when they already agree.

    Without `ask`, undecided changes raise UndecidedChangesError; with it, each is asked in turn.
    """
    heads = head_revisions()
    if len(heads) > 1:
        raise SchemaChangeError(
            f"The migrations have {len(heads)} heads ({', '.join(heads)}); join them first with "
            "`alembic merge heads -m 'merge heads'`, then run make-migration again"
        )
    while True:
        try:
            return await _write_revision(settings, decisions, message)
        except UndecidedChangesError as needed:
            if ask is None:
                raise
            for question in needed.questions:
                decisions = decisions.with_answer(question, _answer(question, ask))


def _answer(question: Question, ask: Ask) -> str:
    while True:
        answer = ask(question.prompt()).strip()
        if not answer:
            raise SchemaChangeError("Stopped: no migration was written")
        if isinstance(question, Gone):
            if answer == "drop" or re.fullmatch(r"[a-z_][a-z0-9_]*", answer):
                return answer
            print("Type 'drop' or a lower_snake_case name.")
            continue
        try:
            parse_value(question.column, answer)
        except ValueError as error:
            print(error)
            continue
        return answer


async def _write_revision(
    settings: Settings, decisions: Decisions, message: str | None
) -> Path | None:
    async with scratch_database(settings.database_url, "history") as url:
        engine = create_engine(settings.model_copy(update={"database_url": url}))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_revise, _Planner(decisions, message))
        finally:
            await engine.dispose()


def _revise(connection: Connection, planner: "_Planner") -> Path | None:
    upgrade(connection)
    planner.apply_renames(connection)
    # Alembic runs the comparison, like a migration, on a connection with no transaction open.
    connection.commit()
    written = command.revision(
        alembic_config(connection),
        autogenerate=True,
        process_revision_directives=planner.plan,
    )
    return Path(written.path) if isinstance(written, Script) else None


class _Planner:
    """Turns Alembic's comparison into a revision that is safe on tables holding rows."""

    def __init__(self, decisions: Decisions, message: str | None) -> None:
        self.decisions = decisions
        self.message = message
        self.rename_ops: list[ops.MigrateOperation] = []
        self.undo_rename_ops: list[ops.MigrateOperation] = []

    def apply_renames(self, connection: Connection) -> None:
        """Rename on the scratch database first, so the comparison sees the data kept."""
        operations = Operations(
            MigrationContext.configure(connection, opts=context_options(connection))
        )
        tables = inspect(connection).get_table_names()
        for old, new in self.decisions.renames.items():
            table, _, column = old.partition(".")
            if table not in tables:
                raise SchemaChangeError(f"--rename {old}={new}: there is no table {table}")
            if not column:
                operations.rename_table(table, new)
                self.rename_ops.append(ops.RenameTableOp(table, new))
                self.undo_rename_ops.insert(0, ops.RenameTableOp(new, table))
                continue
            columns = {info["name"] for info in inspect(connection).get_columns(table)}
            if column not in columns:
                raise SchemaChangeError(f"--rename {old}={new}: table {table} has no {column}")
            # SQLite copies the table to rename a column: as it is, AUTOINCREMENT or not, which
            # the comparison then tells apart from the models'.
            kept = created_table_kwargs(connection, table)
            with operations.batch_alter_table(table, table_kwargs=kept) as batch:
                batch.alter_column(column, new_column_name=new)
            rename = ops.AlterColumnOp(table, column, modify_name=new)
            self.rename_ops.append(TableChangesAsCreated(table, [rename], kept))
            undo = ops.AlterColumnOp(table, new, modify_name=column)
            self.undo_rename_ops.insert(0, TableChangesAsCreated(table, [undo], kept))

    def plan(self, context: MigrationContext, revision: Any, directives: list[Any]) -> None:
        script: ops.MigrationScript = directives[0]
        upgrade_ops = script.upgrade_ops
        assert isinstance(upgrade_ops, ops.UpgradeOps)
        if upgrade_ops.is_empty() and not self.rename_ops:
            directives.clear()
            return
        created = [op.table_name for op in upgrade_ops.ops if isinstance(op, ops.CreateTableOp)]
        questions: list[Question] = []
        planned: list[ops.MigrateOperation] = [*self.rename_ops]
        for op in upgrade_ops.ops:
            if isinstance(op, ops.DropTableOp):
                questions += self._undecided_drop(op.table_name, created)
                planned.append(op)
            elif isinstance(op, ops.ModifyTableOps):
                table_questions, table_ops = self._plan_table(op)
                questions += table_questions
                planned += table_ops
            else:
                planned.append(op)
        if questions:
            raise UndecidedChangesError(questions)
        upgrade_ops.ops = planned
        downgrade_ops = script.downgrade_ops
        assert isinstance(downgrade_ops, ops.DowngradeOps)
        downgrade_ops.ops = [*downgrade_ops.ops, *self.undo_rename_ops]
        script.message = self.message or describe(planned)

    def _undecided_drop(self, name: str, appeared: list[str]) -> list[Question]:
        if name in self.decisions.drops:
            return []
        return [Gone(name, tuple(appeared))]

    def _plan_table(
        self, table_ops: ops.ModifyTableOps
    ) -> tuple[list[Question], list[ops.MigrateOperation]]:
        """Split one table's changes around the backfills that required columns need."""
        table = table_ops.table_name
        added = [op.column.name for op in table_ops.ops if isinstance(op, ops.AddColumnOp)]
        questions: list[Question] = []
        before: list[ops.MigrateOperation] = []
        backfills: list[ops.MigrateOperation] = []
        after: list[ops.MigrateOperation] = []
        for op in table_ops.ops:
            if isinstance(op, ops.DropColumnOp):
                name = f"{table}.{op.column_name}"
                questions += self._undecided_drop(name, [f"{table}.{column}" for column in added])
                before.append(op)
            elif isinstance(op, ops.AddColumnOp) and _needs_value(op.column):
                value = self._default(f"{table}.{op.column.name}", op.column, True, questions)
                op.column.nullable = True
                before.append(op)
                backfills.append(BackfillOp(table, op.column.name, value, only_nulls=False))
                after.append(
                    ops.AlterColumnOp(
                        table,
                        op.column.name,
                        modify_nullable=False,
                        existing_type=op.column.type,
                        existing_nullable=True,
                    )
                )
            elif isinstance(op, ops.AlterColumnOp) and op.modify_nullable is False:
                column = Column(op.column_name, op.modify_type or op.existing_type)
                value = self._default(f"{table}.{op.column_name}", column, False, questions)
                op.modify_nullable = None
                op.existing_nullable = True
                if op.modify_type is not None or op.modify_server_default is not False:
                    before.append(op)
                backfills.append(BackfillOp(table, op.column_name, value, only_nulls=True))
                after.append(
                    ops.AlterColumnOp(
                        table,
                        op.column_name,
                        modify_nullable=False,
                        existing_type=column.type,
                        existing_nullable=True,
                    )
                )
            else:
                before.append(op)
        planned: list[ops.MigrateOperation] = []
        if before:
            planned.append(ops.ModifyTableOps(table, before, schema=table_ops.schema))
        planned += backfills
        if after:
            planned.append(ops.ModifyTableOps(table, after, schema=table_ops.schema))
        return questions, planned

    def _default(
        self, name: str, column: Column[Any], is_new: bool, questions: list[Question]
    ) -> object:
        text = self.decisions.defaults.get(name)
        if text is None:
            questions.append(NeedsValue(name, column, is_new))
            return None
        try:
            return parse_value(column, text)
        except ValueError as error:
            raise SchemaChangeError(f"--default {name}={text}: {error}") from error


def _needs_value(column: Column[Any]) -> bool:
    return not column.nullable and column.server_default is None


class BackfillOp(ops.MigrateOperation):
    """Set a column on the rows that exist, before it becomes NOT NULL."""

    def __init__(self, table_name: str, column_name: str, value: object, *, only_nulls: bool):
        self.table_name = table_name
        self.column_name = column_name
        self.value = value
        self.only_nulls = only_nulls


@renderers.dispatch_for(BackfillOp)
def _render_backfill(autogen_context: AutogenContext, op: BackfillOp) -> str:
    value = _render_value(op.value)
    for module in ("datetime", "decimal", "uuid"):
        if f"({module}." in value:
            autogen_context.imports.add(f"import {module}")
    column = f"sa.column({op.column_name!r})"
    where = f".where({column}.is_(None))" if op.only_nulls else ""
    values = "{" + f"{op.column_name!r}: {value}" + "}"
    return (
        f"op.execute(\n"
        f"    sa.table({op.table_name!r}, {column})\n"
        f"    .update(){where}\n"
        f"    .values({values})\n"
        f")"
    )


# A check's text as a database gives it back can be longer than a line (PostgreSQL rewrites
# `status IN (...)` with casts): Alembic's rendering, with such a literal cut at its spaces into
# literals that Python joins, which the post-write `ruff format` lays out one a line.
_render_check_constraint = renderers.dispatch(ops.CreateCheckConstraintOp)
STRING_LITERAL = re.compile(r"""(?P<quote>["'])(?P<text>(?:(?!(?P=quote))[^\\])*)(?P=quote)""")


@renderers.dispatch_for(ops.CreateCheckConstraintOp, replace=True)
def _render_create_check_constraint(
    autogen_context: AutogenContext, op: ops.CreateCheckConstraintOp
) -> str:
    rendered: str = _render_check_constraint(autogen_context, op)
    return STRING_LITERAL.sub(_cut_literal, rendered)


def _cut_literal(match: re.Match[str]) -> str:
    quote, text = match.group("quote"), match.group("text")
    if len(text) < 60:
        return match.group(0)
    pieces: list[str] = []
    for word in text.split(" "):
        if pieces and len(pieces[-1]) + len(word) < 60:
            pieces[-1] += f" {word}"
        else:
            pieces.append(word if not pieces else f" {word}")
    return " ".join(f"{quote}{piece}{quote}" for piece in pieces)


@renderers.dispatch_for(ops.RenameTableOp)
def _render_rename_table(autogen_context: AutogenContext, op: ops.RenameTableOp) -> str:
    # Alembic's comparison never renames, so it has no renderer of its own for this.
    return f"op.rename_table({op.table_name!r}, {op.new_table_name!r})"


def _render_value(value: object) -> str:
    # A literal of the value's own type: the bare column of the UPDATE has none to bind with.
    if isinstance(value, datetime):
        iso = value.isoformat()
        return f"sa.literal(datetime.datetime.fromisoformat({iso!r}), sa.DateTime(timezone=True))"
    if isinstance(value, date):
        return f"sa.literal(datetime.date.fromisoformat({value.isoformat()!r}))"
    if isinstance(value, Decimal):
        return f"sa.literal(decimal.Decimal({str(value)!r}))"
    if isinstance(value, UUID):
        return f"sa.literal(uuid.UUID({str(value)!r}))"
    return repr(value)


def parse_value(column: Column[Any], text: str) -> object:
    """`text` as a value of the column's Python type; ValueError saying what is expected."""
    python_type = _python_type(column)
    try:
        if python_type is bool:
            return {"true": True, "false": False}[text.lower()]
        if python_type is datetime:
            moment = datetime.fromisoformat(text)
            return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)
        if python_type is date:
            return date.fromisoformat(text)
        if python_type is Decimal:
            return Decimal(text)
        if python_type in (int, float, UUID):
            return python_type(text)
    except (KeyError, ValueError, InvalidOperation) as error:
        raise ValueError(f"'{text}' is not {_type_name(column)}") from error
    length = getattr(column.type, "length", None)
    if length is not None and len(text) > length:
        raise ValueError(f"'{text}' is longer than {length} characters")
    return text


def _python_type(column: Column[Any]) -> type:
    # A TypeDecorator (UTCDateTime) says `object`: what it stores is what its value must be.
    stored = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    try:
        python_type: type = stored.python_type
    except NotImplementedError:
        return str
    return python_type


def _type_name(column: Column[Any]) -> str:
    return {
        bool: "true or false",
        datetime: "a date and time such as 2024-01-31T12:00:00Z",
        date: "a date such as 2024-01-31",
        Decimal: "a decimal number",
        int: "a whole number",
        float: "a number",
        UUID: "a UUID",
    }.get(_python_type(column), "text")


def _flag(question: Question) -> str:
    if isinstance(question, Gone):
        return f"--drop {question.name}"
    return f"--default {question.name}=VALUE"


def describe(planned: list[ops.MigrateOperation]) -> str:
    """A short message for the revision, from what it does."""
    parts: list[str] = []
    for op in planned:
        if isinstance(op, ops.CreateTableOp):
            parts.append(f"create {op.table_name}")
        elif isinstance(op, ops.DropTableOp):
            parts.append(f"drop {op.table_name}")
        elif isinstance(op, ops.RenameTableOp):
            parts.append(f"rename {op.table_name} to {op.new_table_name}")
        elif isinstance(op, SetAutoincrementOp):
            negation = "" if op.autoincrement else "not "
            parts.append(f"make {', '.join(op.table_names)} {negation}AUTOINCREMENT")
        elif isinstance(op, ops.ModifyTableOps):
            for inner in op.ops:
                if isinstance(inner, ops.AddColumnOp):
                    parts.append(f"add {op.table_name}.{inner.column.name}")
                elif isinstance(inner, ops.DropColumnOp):
                    parts.append(f"drop {op.table_name}.{inner.column_name}")
                elif isinstance(inner, ops.AlterColumnOp) and inner.modify_name:
                    parts.append(f"rename {op.table_name}.{inner.column_name}")
    unique = list(dict.fromkeys(parts)) or ["change columns and indexes"]
    text = ", ".join(unique)
    return text if len(text) <= 60 else text[:57].rsplit(" ", 1)[0] + " ..."
