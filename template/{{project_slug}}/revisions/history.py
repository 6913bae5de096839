"""The one place that configures, runs and reads the project's Alembic history.

`migrations/env.py`, `prestart`, `/ready`, `make-migration` and the tests all go through here, so
they migrate and compare the schema the same way.
"""

from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from ..features import METADATA

# Relative to the project root, where every command of the project runs (and the image's WORKDIR).
ALEMBIC_INI = "alembic.ini"


def context_options(connection: Connection) -> dict[str, Any]:
    """How migrations run and how the schema is compared with the models, on this connection."""
    return {
        "target_metadata": METADATA,
        # SQLite can only alter a table by copying it; batch mode does that for us.
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_server_default": True,
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
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def schema_differences(connection: Connection) -> list[Any]:
    """What the models have that the database does not, and the reverse: empty when in step."""
    context = MigrationContext.configure(connection, opts=context_options(connection))
    return list(compare_metadata(context, context.opts["target_metadata"]))
