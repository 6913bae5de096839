"""Every create, update and delete of a resource's row is recorded in `change_events`, in the
transaction that makes it, whoever makes it (the API, the admin, a script through the ORM).

A rolled-back write leaves no event, and the feed (changes/feed.py) reads only committed ones.
On PostgreSQL a transaction that records takes one advisory lock until it ends, so that event
ids, the feed's cursors, follow commit order; it also notifies every process that listens.
"""

from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Executable,
    Select,
    Table,
    bindparam,
    event,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.orm import Mapper, object_session

from ..crud import OwnedBase
from ..database import utc_now
from ..users.model import User
from .model import ChangeEvent

Operation = Literal["create", "update", "delete"]

NOTIFY_CHANNEL = "change_events"
# Any fixed number, the same in every process: the lock's one key.
RECORDING_LOCK = 7_264_139
COLUMNS = ["resource", "operation", "row_id", "owner_id", "created_at"]
# One event, its values bound at each write: the statements are built once, not per write.
ONE_EVENT = select(*(bindparam(name, type_=ChangeEvent.__table__.c[name].type) for name in COLUMNS))


def _record(connection: Connection, events: Select[Any], values: dict[str, Any]) -> None:
    """Insert the events `events` selects with `values` bound, in its order (one row per
    event, as COLUMNS)."""
    connection.execute(_recording(events, connection.dialect.name), values)


@cache
def _recording(events: Select[Any], dialect: str) -> Executable:
    if dialect != "postgresql":
        return insert(ChangeEvent).from_select(COLUMNS, events)
    # One statement: the lock is taken before any event's id is drawn (the rows to insert come
    # after it), so ids follow commit order; the notification goes out when the transaction commits.
    turn = select(func.pg_advisory_xact_lock(RECORDING_LOCK).label("taken")).cte("turn")
    pending = events.subquery()
    after_turn = select(*pending.c).select_from(turn).join(pending, true())
    recorded = (
        insert(ChangeEvent)
        .from_select(COLUMNS, after_turn)
        .returning(ChangeEvent.id)
        .cte("recorded")
    )
    return select(func.pg_notify(NOTIFY_CHANNEL, "")).select_from(recorded)


def _one_event(row: OwnedBase, operation: Operation) -> dict[str, Any]:
    return {
        "resource": row.__tablename__,
        "operation": operation,
        "row_id": row.id,
        "owner_id": row.owner_id,
        "created_at": utc_now(),
    }


@event.listens_for(OwnedBase, "after_insert", propagate=True)
def _record_create(_: Mapper[Any], connection: Connection, row: OwnedBase) -> None:
    _record(connection, ONE_EVENT, _one_event(row, "create"))


@event.listens_for(OwnedBase, "after_update", propagate=True)
def _record_update(_: Mapper[Any], connection: Connection, row: OwnedBase) -> None:
    # Called for every row the flush found dirty, even one set back to its values.
    session = object_session(row)
    if session is None or session.is_modified(row):
        _record(connection, ONE_EVENT, _one_event(row, "update"))


@event.listens_for(OwnedBase, "after_delete", propagate=True)
def _record_delete(_: Mapper[Any], connection: Connection, row: OwnedBase) -> None:
    _record(connection, ONE_EVENT, _one_event(row, "delete"))


@event.listens_for(User, "before_delete")
def _record_deletes_of_owned_rows(_: Mapper[Any], connection: Connection, user: User) -> None:
    """A user's rows go with them by ON DELETE CASCADE, which the ORM never sees: each is
    recorded as deleted here, before the database deletes it."""
    for table in _resource_tables():
        _record(connection, _owned_rows_deleted(table), {"user_id": user.id, "at": utc_now()})


@cache
def _owned_rows_deleted(table: Table) -> Select[Any]:
    """A delete event of each of the user's rows of `table`, in the order of their ids."""
    at = bindparam("at", type_=ChangeEvent.__table__.c.created_at.type)
    owned = select(literal(table.name), literal("delete"), table.c.id, table.c.owner_id, at)
    return owned.where(table.c.owner_id == bindparam("user_id")).order_by(table.c.id)


def _resource_tables() -> list[Table]:
    return [
        mapper.local_table
        for mapper in OwnedBase.registry.mappers
        if issubclass(mapper.class_, OwnedBase) and isinstance(mapper.local_table, Table)
    ]
