"""Throwaway databases of the project's kind, for the tests and for checking the migrations."""

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


class ScratchDatabaseError(Exception):
    """A throwaway database could not be made on the server of the given URL."""


@asynccontextmanager
async def scratch_database(database_url: str, label: str) -> AsyncIterator[str]:
    """Yield the URL of a new, empty database of the same kind as `database_url`; drop it after.

    SQLite: a file in a temporary directory. PostgreSQL: a database with a unique name on the
    same server, made through its `postgres` database (so the user needs CREATEDB); the database
    named in the URL is never touched. `label` says what it is for, in its name.
    """
    server = make_url(database_url)
    if server.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"{label}-") as directory:
            yield server.set(database=str(Path(directory) / f"{label}.db")).render_as_string(
                hide_password=False
            )
        return
    # Named after the project too, so a database left by a killed run says whose it is.
    name = f"{label}_{secrets.token_hex(6)}_{__name__.split('.')[0]}"[:63]
    maintenance = create_async_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with maintenance.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as error:
        await maintenance.dispose()
        where = server.render_as_string(hide_password=True)
        message = f"Could not make a throwaway {label} database on {where}: {error}"
        raise ScratchDatabaseError(message) from error
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with maintenance.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await maintenance.dispose()
