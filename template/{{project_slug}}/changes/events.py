"""Writing events to `change_events`: the one statement that records them, for the writes of the
ORM (recording.py's hooks) and of the API's services (crud.py), in the transaction of the write.

A rolled-back write leaves no event, and the feed (feed.py) reads only committed ones. On
PostgreSQL a transaction that records takes one advisory lock until it ends, so that event ids,
the feed's cursors, follow commit order; it also notifies every process that listens.
"""

from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Executable,
    Select,
    bindparam,
    func,
    insert,
    select,
    true,
)

from ..database import utc_now
from .model import ChangeEvent

Operation = Literal["create", "update", "delete"]

NOTIFY_CHANNEL = "change_events"
# Marks a connection whose transaction recorded events, for the feed of its process.
RECORDED = "change_events_recorded"
# Any fixed number, the same in every process: the lock's one key.
RECORDING_LOCK = 7_264_139
COLUMNS = ["resource", "operation", "row_id", "owner_id", "created_at"]
# One event, its values bound at each write (one_event): the statements are built once.
ONE_EVENT = select(*(bindparam(name, type_=ChangeEvent.__table__.c[name].type) for name in COLUMNS))


def one_event(resource: str, operation: Operation, row_id: int, owner_id: int) -> dict[str, Any]:
    """The values ONE_EVENT binds for a write of row `row_id` of the table `resource`."""
    return {
        "resource": resource,
        "operation": operation,
        "row_id": row_id,
        "owner_id": owner_id,
        "created_at": utc_now(),
    }


def record(connection: Connection, events: Select[Any], values: dict[str, Any]) -> None:
    """Insert the events `events` selects with `values` bound, in its order (one row per
    event, as COLUMNS)."""
    connection.execute(_recording(events, connection.dialect.name), values)
    connection.info[RECORDED] = True


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
