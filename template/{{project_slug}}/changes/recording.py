"""What the ORM writes to a resource's rows is recorded in `change_events` (events.py), whoever
writes it (the API's deletes, the admin, code of your own), and so is what the database does
unseen by the ORM to other rows when a row or a user is deleted. The API's creates and updates
run Core statements and record their own events (crud.py).
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    FromClause,
    Integer,
    Select,
    Table,
    bindparam,
    event,
    literal,
    select,
)
from sqlalchemy.orm import Mapper, object_session

from ..crud import OwnedBase, link_columns, many_to_many
from ..database import utc_now
from ..users.model import User
from .events import ONE_EVENT, Operation, one_event, record
from .model import ChangeEvent

# What the database does to a row that refers to a deleted one.
ON_DELETE: dict[str, Operation] = {"CASCADE": "delete", "SET NULL": "update"}


def _one_event(row: OwnedBase, operation: Operation) -> dict[str, Any]:
    return one_event(row.__tablename__, operation, row.id, row.owner_id)


def _record_create(_: Mapper[Any], connection: Connection, row: OwnedBase) -> None:
    record(connection, ONE_EVENT, _one_event(row, "create"))


def _record_update(_: Mapper[Any], connection: Connection, row: OwnedBase) -> None:
    # Called for every row the flush found dirty, even one set back to its values.
    session = object_session(row)
    if session is None or session.is_modified(row):
        record(connection, ONE_EVENT, _one_event(row, "update"))


def _record_delete(_: Mapper[Any], connection: Connection, row: OwnedBase) -> None:
    record(connection, ONE_EVENT, _one_event(row, "delete"))


def _record_what_a_delete_does_to_other_rows(
    _: Mapper[Any], connection: Connection, row: OwnedBase
) -> None:
    _record_consequences(connection, row.__table__, [row.id], {(row.__tablename__, row.id)})


def _record_deletes_of_owned_rows(_: Mapper[Any], connection: Connection, user: User) -> None:
    """A user's rows go with them by ON DELETE CASCADE, which the ORM never sees: each is
    recorded as deleted here, before the database deletes it, then what that does to others."""
    owned = {
        table: list(connection.execute(_owned_ids(table), {"user_id": user.id}).scalars())
        for _, table in _resources()
    }
    deleted = {(table.name, row_id) for table, ids in owned.items() for row_id in ids}
    for table, ids in owned.items():
        _record_rows(connection, table, "delete", ids)
    for table, ids in owned.items():
        _record_consequences(connection, table, ids, deleted)


# Each hook of the ORM's writes: its target, its event and the listener.
_HOOKS: tuple[tuple[type[Any], str, Callable[..., None]], ...] = (
    (OwnedBase, "after_insert", _record_create),
    (OwnedBase, "after_update", _record_update),
    (OwnedBase, "after_delete", _record_delete),
    (OwnedBase, "before_delete", _record_what_a_delete_does_to_other_rows),
    (User, "before_delete", _record_deletes_of_owned_rows),
)


def record_orm_writes() -> None:
    """Record from now on what the ORM writes: create_app calls this, and a script of your own
    that writes rows through the ORM should too. Calling it again changes nothing."""
    for target, name, listener in _HOOKS:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener, propagate=True)


def _record_consequences(
    connection: Connection, table: FromClause, ids: list[int], deleted: set[tuple[str, int]]
) -> None:
    """Record what deleting rows `ids` of `table` does to the rows of others, which the database
    changes where the ORM never sees it: ON DELETE CASCADE deletes those that refer to them (and
    what refers to those in turn), SET NULL clears their reference, and a many-to-many's links
    go, changing the rows that list them. `deleted` holds the rows already recorded as deleted.
    """
    for dependents, affected, operation in _dependents(table):
        found = connection.execute(dependents, {"ids": ids}).scalars()
        fresh = sorted({row_id for row_id in found if (affected.name, row_id) not in deleted})
        if not fresh:
            continue
        _record_rows(connection, affected, operation, fresh)
        if operation == "delete":
            deleted.update((affected.name, row_id) for row_id in fresh)
            _record_consequences(connection, affected, fresh, deleted)


def _record_rows(
    connection: Connection, table: Table, operation: Operation, ids: list[int]
) -> None:
    if ids:
        record(connection, _events_of_rows(table, operation), {"ids": ids, "at": utc_now()})


@cache
def _events_of_rows(table: Table, operation: Operation) -> Select[Any]:
    """An event of each row of `table` whose id is in `ids`, in the order of their ids."""
    at = bindparam("at", type_=ChangeEvent.__table__.c.created_at.type)
    events = select(literal(table.name), literal(operation), table.c.id, table.c.owner_id, at)
    wanted = table.c.id.in_(bindparam("ids", expanding=True))
    return events.where(wanted).order_by(table.c.id)


@cache
def _owned_ids(table: Table) -> Select[int]:
    return select(table.c.id).where(table.c.owner_id == bindparam("user_id"))


@cache
def _dependents(table: FromClause) -> tuple[tuple[Select[int], Table, Operation], ...]:
    """For each way the database changes other rows when rows of `table` go: the ids of those
    rows (given `ids`, the rows that go), their table, and what happens to them."""
    ids = bindparam("ids", type_=Integer, expanding=True)
    dependents: list[tuple[Select[int], Table, Operation]] = []
    for model, other in _resources():
        for key in other.foreign_keys:
            if key.column.table is table and key.ondelete in ON_DELETE:
                referring = select(other.c.id).where(key.parent.in_(ids))
                dependents.append((referring, other, ON_DELETE[key.ondelete]))
        for relation in many_to_many(model).values():
            if relation.mapper.local_table is not table:
                continue
            # The link table's column naming `other`'s row, and the one naming `table`'s.
            listing, listed = link_columns(relation)
            linking = select(listing).where(listed.in_(ids))
            dependents.append((linking, other, "update"))
    return tuple(dependents)


@cache
def _resources() -> tuple[tuple[type[OwnedBase], Table], ...]:
    """The model and table of each resource."""
    return tuple(
        (mapper.class_, mapper.local_table)
        for mapper in OwnedBase.registry.mappers
        if issubclass(mapper.class_, OwnedBase) and isinstance(mapper.local_table, Table)
    )
