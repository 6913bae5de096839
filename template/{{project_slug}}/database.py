import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.requests import HTTPConnection
from sqlalchemy import Connection, DateTime, Dialect, MetaData, event, make_url
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from .config import Settings

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_UNIQUE_FAILED = "UNIQUE constraint failed: "
SQLITE_FOREIGN_KEY_FAILED = "FOREIGN KEY constraint failed"
POSTGRES_FOREIGN_KEY_VIOLATION = "23503"
POSTGRES_UNIQUE_VIOLATION = "23505"
POSTGRES_UNIQUE_KEY = re.compile(r"Key \((.+?)\)=")
POSTGRES_UNDEFINED_TABLE_OR_COLUMN = {"42P01", "42703"}
POSTGRES_TIMESTAMPTZ_OID = 1184
SQLITE_MISSING_TABLE_OR_COLUMN = re.compile(r"^no such (table|column)|has no column named")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _as_utc(value) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _as_utc(value) if value is not None else None

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        # asyncpg hands back timestamptz in UTC already: converting each value again cost 4% of
        # the CPU of a page of 100 rows. A column made without a time zone still gets converted.
        if dialect.driver == "asyncpg" and coltype == POSTGRES_TIMESTAMPTZ_OID:
            return None
        return super().result_processor(dialect, coltype)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_missing_table_or_column(error: DBAPIError) -> bool:
    """Whether the database refused a query for a table or column its schema lacks."""
    if getattr(error.orig, "sqlstate", None) in POSTGRES_UNDEFINED_TABLE_OR_COLUMN:
        return True
    return SQLITE_MISSING_TABLE_OR_COLUMN.search(str(error.orig)) is not None


def is_foreign_key_violation(error: IntegrityError) -> bool:
    if getattr(error.orig, "sqlstate", None) == POSTGRES_FOREIGN_KEY_VIOLATION:
        return True
    return str(error.orig).startswith(SQLITE_FOREIGN_KEY_FAILED)


def unique_violation_columns(error: IntegrityError) -> list[str] | None:
    """The columns whose unique constraint `error` reports ([] if unnamed), None for any other
    integrity error: NOT NULL, foreign key or check, which are bugs rather than clashes."""
    cause = error.orig
    if getattr(cause, "sqlstate", None) == POSTGRES_UNIQUE_VIOLATION:
        # asyncpg's own exception, under SQLAlchemy's, says "Key (email)=(...) already exists."
        detail = getattr(getattr(cause, "__cause__", None), "detail", None)
        match = POSTGRES_UNIQUE_KEY.match(detail or "")
        return match.group(1).split(", ") if match else []
    message = str(cause)
    if message.startswith(SQLITE_UNIQUE_FAILED):
        qualified = message.removeprefix(SQLITE_UNIQUE_FAILED).split(", ")
        return [column.rsplit(".", 1)[-1] for column in qualified]
    return None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Database:
    """The engines and session factories of one app instance: on SQLite one engine to write and
    one to read (see `create_engine`), on PostgreSQL one engine. Reads run outside a transaction,
    each statement on what was committed before it began."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        if self.engine.dialect.name == "sqlite":
            self.read_engine = create_engine(settings, read_only=True)
        else:
            # Inside a READ COMMITTED transaction each statement sees what was committed before
            # it began, as outside one: a read gains nothing from BEGIN and ROLLBACK, two round
            # trips. The same pool: switching costs no round trip.
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine.pool is not self.engine.pool:
            await self.read_engine.dispose()


def create_engine(settings: Settings, *, read_only: bool = False) -> AsyncEngine:
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        # SQLite has one writer at a time, and a transaction that reads and then writes fails
        # at once with "database is locked" when another connection wrote in between. So the
        # writes of a process take turns on one connection, whose transactions take the write
        # lock as they begin (waiting for other processes' within busy_timeout), and reads have
        # a pool of their own that runs beside it (WAL).
        engine = create_async_engine(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size if read_only else 1,
            max_overflow=settings.database_max_overflow if read_only else 0,
            pool_timeout=settings.database_pool_timeout_seconds,
            # Reads open no transaction (_configure_sqlite), and their session's close rolls back
            # anyway: a second ROLLBACK on the way back to the pool would be one more round trip
            # to aiosqlite's thread.
            pool_reset_on_return=None if read_only else "rollback",
        )
        _configure_sqlite(engine, read_only=read_only)
        return engine
    engine = create_async_engine(
        settings.database_url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_recycle=settings.database_pool_recycle_seconds,
        connect_args={
            "timeout": settings.database_connect_timeout_seconds,
            # asyncpg's own cache and SQLAlchemy's cache of asyncpg prepared statements.
            "statement_cache_size": settings.database_statement_cache_size,
            "prepared_statement_cache_size": settings.database_statement_cache_size,
        },
    )
    _report_outages_as_operational_errors(engine)
    _replace_closed_connections(engine)
    return engine


def _replace_closed_connections(engine: AsyncEngine) -> None:
    """Replace, on checkout, a pooled connection that the server closed (a restart, a failover,
    idle_session_timeout), instead of failing the request that would use it.

    asyncpg marks a connection closed as soon as the event loop reads the server's goodbye,
    so this asks no round trip, where pool_pre_ping asks three per checkout (BEGIN, a query,
    ROLLBACK): a tenth of the CPU of a read by id.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: DBAPIConnection, *_: object) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("The server closed this pooled connection")


def _report_outages_as_operational_errors(engine: AsyncEngine) -> None:
    """Raise OperationalError, which the app answers with 503, whenever the database is away.

    Through asyncpg a refused, timed-out or unresolvable connection raises a bare OSError, not a
    SQLAlchemy error; a server that is starting or shutting down raises a generic DBAPIError, and
    so does a query cut off by a restart.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(
        dialect: Dialect, _: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> DBAPIConnection:
        dbapi = dialect.loaded_dbapi
        try:
            return dialect.connect(*cargs, **cparams)
        except (OSError, dbapi.Error) as error:
            reason = str(error) or type(error).__name__
            raise dbapi.OperationalError(f"cannot connect to the database: {reason}") from error

    @event.listens_for(engine.sync_engine, "handle_error")
    def on_error(context: ExceptionContext) -> OperationalError | None:
        if not context.is_disconnect or isinstance(context.sqlalchemy_exception, OperationalError):
            return None
        return OperationalError(
            context.statement,
            context.parameters,
            context.original_exception,
            connection_invalidated=True,
        )


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and transactional DDL: SQLAlchemy's
    # documented fix is to switch it off and emit BEGIN ourselves.
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        if read_only:
            # A write through a reading connection fails loudly instead of racing the writer.
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    if read_only:
        # Each read is a statement of its own, as on PostgreSQL (Database): a BEGIN would be one
        # more round trip to aiosqlite's thread.
        return

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def get_database(connection: HTTPConnection) -> Database:
    """The app's database. `get_session` calls this rather than depending on it: replace
    `app.state.database`, or override `get_session` itself, as the tests do."""
    database: Database = connection.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


# No route writes on these: their sessions read, beside any write on SQLite.
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # Called, not declared as a dependency: each one FastAPI solves costs about 3% of the CPU of a
    # read by id, and nearly every request opens a session.
    database = await get_database(request)
    if request.method in READ_ONLY_METHODS:
        sessionmaker = database.read_sessionmaker
    else:
        sessionmaker = database.sessionmaker
    async with sessionmaker() as session:
        yield session


# Closed as soon as the route returns, before its response is validated and sent: its
# connection goes back to the pool for the next request instead of waiting for a slow client.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
