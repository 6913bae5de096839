from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache, lru_cache
from typing import Annotated, Any, Generic, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Delete,
    ForeignKey,
    Insert,
    Select,
    Table,
    UnaryExpression,
    Update,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import (
    InstrumentedAttribute,
    Mapped,
    RelationshipProperty,
    mapped_column,
    selectinload,
)

from .auth.principal import Principal
from .changes.events import ONE_EVENT, Operation, one_event, record
from .database import (
    Base,
    UTCDateTime,
    is_foreign_key_violation,
    unique_violation_columns,
    utc_now,
)
from .errors import ConflictError, InvalidFieldError, NotFoundError
from .filters import AtLeast, AtMost, Filter
from .pagination import PageParams, PageQuery, Paginated, paginate
from .schemas import AwareUTCDatetime


class OwnedBase(Base):
    """Columns every resource row has: its id, its owner and when it was made and changed."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)


ModelT = TypeVar("ModelT", bound=OwnedBase)
RowT = TypeVar("RowT")

# A row as the API answers it: its columns, the ids its many-to-manys link (`tag_ids`) and the
# rows a request embeds (`include`), each a dict alike. The read schemas validate it.
RowData = dict[str, Any]


# What a model's mapping says, read on every request that lists, writes or deletes: worked out
# once per model.
@cache
def references(model: type[OwnedBase]) -> dict[str, type[OwnedBase]]:
    """The model's reference columns (`author_id`) and the models they refer to."""
    return {
        column.name: relation.mapper.class_
        for relation in model.__mapper__.relationships
        if relation.key != "owner" and relation.secondary is None
        for column in relation.local_columns
    }


@cache
def many_to_many(model: type[OwnedBase]) -> dict[str, RelationshipProperty[Any]]:
    """The model's many-to-many relationships by the name of their ids in the API (`tag_ids`)."""
    return {
        relation.info["ids"]: relation
        for relation in model.__mapper__.relationships
        if relation.secondary is not None
    }


@cache
def referring_keys(model: type[OwnedBase]) -> tuple[ForeignKey, ...]:
    """The foreign keys of every table that refer to the model's rows and keep them from being
    deleted: those without ON DELETE CASCADE or SET NULL."""
    table = model.__table__
    return tuple(
        key
        for other in model.metadata.tables.values()
        for key in other.foreign_keys
        if key.column.table is table and key.ondelete is None
    )


def _rows_named(model: type[OwnedBase]) -> str:
    """The model's rows as a message names them: `blog categories` for blog_categories."""
    return str(model.__tablename__).replace("_", " ")


@cache
def link_attributes(model: type[OwnedBase]) -> tuple[InstrumentedAttribute[Any], ...]:
    """The model's many-to-many relationships, as attributes to load."""
    return tuple(relation.class_attribute for relation in many_to_many(model).values())


@cache
def select_columns(model: type[OwnedBase]) -> Select[Any]:
    """The model's columns alone: reads build no ORM instances, which would cost more than the
    query itself on a page of rows."""
    return select(*model.__table__.columns)


@cache
def select_instances(model: type[OwnedBase]) -> Select[Any]:
    """The model's rows as ORM instances, their many-to-manys loaded. Loaded afresh into an
    instance the session holds already: the service's writes are Core statements, which leave
    such an instance as it was."""
    links = (selectinload(link) for link in link_attributes(model))
    return select(model).options(*links).execution_options(populate_existing=True)


# What a read by id binds on execution (select_by_id).
ROW_ID: BindParameter[int] = bindparam("row_id")
OWNER_ID: BindParameter[int] = bindparam("owner_id")
# A service's visibility rule (OwnedCrud.owned_by).
OwnerRule = Callable[[Select[Any], type[OwnedBase], int | BindParameter[int] | None], Select[Any]]


# Reads of one row by id (`read`, and `get` for updates and deletes) build their statement once
# per rule and model and bind the ids on execution: building a statement and its cache key on
# each request took nearly half of SQLAlchemy's CPU in a read by id.
@cache
def select_by_id(
    owned_by: OwnerRule, model: type[OwnedBase], *, instances: bool, owned: bool
) -> Select[Any]:
    """The row whose id is bound as `row_id` (and, when `owned`, whose owner's as `owner_id`),
    as columns (`select_columns`) or as an ORM instance (`select_instances`)."""
    query = select_instances(model) if instances else select_columns(model)
    return owned_by(query.where(model.id == ROW_ID), model, OWNER_ID if owned else None)


# The row an update writes, bound on execution: a name no column has, since an UPDATE binds each
# value it sets under its column's name.
UPDATED_ID: BindParameter[int] = bindparam("updated_row_id")


# The API's writes run Core statements and answer with the row as stored, as a read would: the
# ORM's unit of work cost more CPU than the rest of the write, and its instances answered with the
# values as given (a price of 10.5 where reads answer 10.50).
@cache
def insert_row(model: type[OwnedBase]) -> Insert:
    """An INSERT of a row of the columns given on execution, answering with the row as stored."""
    return insert(model).returning(*model.__table__.columns)


@cache
def update_row(model: type[OwnedBase]) -> Update:
    """An UPDATE of the row whose id is bound as UPDATED_ID, setting the columns given on
    execution (and `updated_at`), answering with the row as stored."""
    return update(model).where(model.id == UPDATED_ID).returning(*model.__table__.columns)


# The filters a list was given (ListParams.filters_given): the key each one's value is bound as
# (filter_<field name>), its marker, and its value where the statement holds it
# (Filter.varies_by_value), else None.
FiltersGiven = tuple[tuple[str, Filter, Any], ...]
# Each sort and set of filters given has statements of its own, and a client can ask for many:
# the last ones used are kept (2 to 8 MB for 256, by the number of filters).
LIST_QUERIES_KEPT = 256


# Lists keep their statements for the same reason as reads by id; what changes between requests
# is bound on execution: the owner's id, the filters' values (filter_<name>) and the page.
@lru_cache(maxsize=LIST_QUERIES_KEPT)
def select_page(
    owned_by: OwnerRule,
    model: type[OwnedBase],
    filters: FiltersGiven,
    sort: tuple[str, ...],
    *,
    instances: bool,
    owned: bool,
) -> PageQuery:
    """The statements of a list, as columns or as ORM instances (see select_by_id)."""
    query = select_instances(model) if instances else select_columns(model)
    query = owned_by(query, model, OWNER_ID if owned else None)
    conditions = (
        marker.condition(model, value if marker.varies_by_value else marker.parameter(key))
        for key, marker, value in filters
    )
    order = [_order(model, key) for key in sort]
    return PageQuery.of(query.where(*conditions).order_by(*order, model.id))


def _order(model: type[OwnedBase], key: str) -> UnaryExpression[Any]:
    column: InstrumentedAttribute[Any] = getattr(model, key.removeprefix("-"))
    return column.desc() if key.startswith("-") else column.asc()


async def read_rows(
    session: AsyncSession,
    query: Select[Any],
    model: type[OwnedBase],
    include: Sequence[str] = (),
    values: Mapping[str, Any] | None = None,
) -> list[RowData]:
    """The rows of `query` (`select_columns(model)`, filtered; `values` bound) as the API answers
    them; `include` names the references to embed. One query per many-to-many and per embedded
    reference, whatever the number of rows. Run on the session's connection, as Core rows, so
    nothing pending in the session is flushed first (services commit each write): the ORM's way
    of executing, which would build nothing here, cost about 5% of the CPU of a read by id."""
    connection = await session.connection()
    result = await connection.execute(query, values)
    # Three times as fast as dicts of the rows' mappings.
    columns = tuple(result.keys())
    rows = [dict(zip(columns, row, strict=True)) for row in result]
    await _add_linked_ids(connection, model, rows)
    for name in dict.fromkeys(include):
        await _embed(session, model, name, rows)
    return rows


def as_read(row: OwnedBase) -> RowData:
    """An ORM row, its many-to-manys loaded, as the API answers it: for code of your own."""
    values: RowData = {column.key: getattr(row, column.key) for column in row.__table__.columns}
    for key in many_to_many(type(row)):
        values[key] = getattr(row, key)
    return values


async def _add_linked_ids(
    connection: AsyncConnection, model: type[OwnedBase], rows: list[RowData]
) -> None:
    ids = [row["id"] for row in rows]
    for key, relation in many_to_many(model).items():
        own, linked = link_columns(relation)
        linked_ids: defaultdict[int, list[int]] = defaultdict(list)
        if ids:
            query = select(own, linked).where(own.in_(ids)).order_by(own, linked)
            for row_id, linked_id in await connection.execute(query):
                linked_ids[row_id].append(linked_id)
        for row in rows:
            row[key] = tuple(linked_ids[row["id"]])


@cache
def link_columns(
    relation: RelationshipProperty[Any],
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The link table's column of the relationship's own rows, and of the rows they link."""
    ((_, own),) = relation.synchronize_pairs
    ((_, linked),) = relation.secondary_synchronize_pairs or ()
    return own, linked


async def _embed(
    session: AsyncSession, model: type[OwnedBase], name: str, rows: list[RowData]
) -> None:
    """Set `name` (`author`) of each row to the row its reference column (`author_id`) names."""
    relation = model.__mapper__.relationships[name]
    (column,) = relation.local_columns
    target: type[OwnedBase] = relation.mapper.class_
    wanted = {row[column.name] for row in rows} - {None}
    query = select_columns(target).where(target.id.in_(wanted))
    embedded = await read_rows(session, query, target) if wanted else []
    by_id = {row["id"]: row for row in embedded}
    for row in rows:
        row[name] = by_id.get(row[column.name])


class ListParams(PageParams):
    """Paging, `sort` and the filters: each field with a Filter in its type is one (filters.py).

    `sort` takes field names, `-` in front for descending, as `sort=-price,title` or repeated.
    """

    sort: Sequence[str] = ("id",)
    created_at_min: Annotated[AwareUTCDatetime | None, AtLeast("created_at")] = None
    created_at_max: Annotated[AwareUTCDatetime | None, AtMost("created_at")] = None

    def filters_given(self) -> tuple[FiltersGiven, dict[str, Any]]:
        """The filters given a value (select_page), and the values they bind."""
        given = []
        values = {}
        for name, marker in _filters(type(self)):
            value = getattr(self, name)
            if value is None:
                continue
            key = f"filter_{name}"
            given.append((key, marker, value if marker.varies_by_value else None))
            if not marker.varies_by_value:
                values[key] = marker.bind(value)
        return tuple(given), values


@cache
def _filters(params: type[ListParams]) -> tuple[tuple[str, Filter], ...]:
    """Each filter of a ListParams class, by the name of its field: read once per class."""
    return tuple(
        (name, marker)
        for name, info in params.model_fields.items()
        for marker in info.metadata
        if isinstance(marker, Filter)
    )


class OwnedCrud(Generic[ModelT]):
    """CRUD on rows owned by the current user; a superuser reaches every row.

    Rows of other users answer 404, exactly like rows that do not exist. `read`, `read_page`,
    `create` and `update` give rows as the API answers them; `get` and `list` give ORM
    instances, for code of your own (`as_read` answers with one).
    """

    def __init__(
        self,
        model: type[ModelT],
        session: AsyncSession,
        user: Principal,
        *,
        noun: str,
    ) -> None:
        self.model = model
        self.session = session
        self.user = user
        self.noun = noun

    async def read_page(
        self, params: ListParams, include: Sequence[str] = ()
    ) -> Paginated[RowData]:
        """A page of the visible rows; `include` names the references to embed."""
        query, values = self._page_query(params, instances=False)

        async def read(rows: Select[Any], bound: Mapping[str, Any]) -> list[RowData]:
            return await read_rows(self.session, rows, self.model, include, bound)

        # Counted where read_rows reads: on the session's connection.
        connection = await self.session.connection()
        return await paginate(connection, query, params, read, values)

    async def read(self, row_id: int, include: Sequence[str] = ()) -> RowData:
        query, ids = self._by_id(row_id, instances=False)
        rows = await read_rows(self.session, query, self.model, include, ids)
        if not rows:
            raise self._not_found()
        return rows[0]

    async def list(self, params: ListParams) -> Paginated[ModelT]:
        query, values = self._page_query(params, instances=True)
        return await paginate(self.session, query, params, self.session.scalars, values)

    async def get(self, row_id: int) -> ModelT:
        query, ids = self._by_id(row_id, instances=True)
        row: ModelT | None = await self.session.scalar(query, ids)
        if row is None:
            raise self._not_found()
        return row

    async def create(self, data: BaseModel) -> RowData:
        values = data.model_dump()
        await self._check_references(values)
        links = await self._linked_ids(values)
        async with self._writing() as connection:
            result = await connection.execute(
                insert_row(self.model), {**values, "owner_id": self.user.id}
            )
            row = dict(zip(result.keys(), result.one(), strict=True))
            row |= dict.fromkeys(many_to_many(self.model), ())
            await self._relink(connection, row, links)
            await self._record(connection, "create", row)
        return row

    async def update(self, row_id: int, data: BaseModel) -> RowData:
        """Write what `data` changes, its links included, and move `updated_at`; a row it leaves
        as it was is not written, nor its event recorded."""
        row = await self.read(row_id)
        values = data.model_dump(exclude_unset=True)
        await self._check_references(values)
        links = await self._linked_ids(values)
        changed = {name: value for name, value in values.items() if row[name] != value}
        relinked = {key: ids for key, ids in links.items() if set(row[key]) != ids}
        if not changed and not relinked:
            return row
        async with self._writing() as connection:
            result = await connection.execute(
                update_row(self.model), {**changed, UPDATED_ID.key: row_id}
            )
            written = result.one_or_none()
            if written is None:
                # Deleted since it was read.
                raise self._not_found()
            row |= zip(result.keys(), written, strict=True)
            await self._relink(connection, row, relinked)
            await self._record(connection, "update", row)
        return row

    async def delete(self, row_id: int) -> None:
        row = await self.get(row_id)
        await self._refuse_if_referred_to(row)
        await self.session.delete(row)
        try:
            await self.session.commit()
        except IntegrityError as error:
            # A row that came to refer to this one since the check above.
            await self.session.rollback()
            if not is_foreign_key_violation(error):
                raise
            raise ConflictError(f"Other rows refer to this {self.noun}") from error

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Each referenced row must exist and be visible to the user, who learns no more than
        that: another user's row and a missing one get the same answer."""
        for column, target in references(self.model).items():
            row_id = values.get(column)
            if row_id is None:
                continue
            query = self._owned(select(target.id).where(target.id == row_id), target)
            if await self.session.scalar(query) is None:
                rows = _rows_named(target)
                raise InvalidFieldError(column, f"{row_id} is not the id of any {rows} you can see")

    async def _linked_ids(self, values: dict[str, Any]) -> dict[str, set[int]]:
        """Take the many-to-many ids (`tag_ids`) out of `values`: by key, the ids given, each of
        a row visible to the user, like a reference."""
        links: dict[str, set[int]] = {}
        for key, relation in many_to_many(self.model).items():
            if key not in values:
                continue
            wanted = set(values.pop(key))
            target = relation.mapper.class_
            query = self._owned(select(target.id).where(target.id.in_(wanted)), target)
            missing = sorted(wanted - set(await self.session.scalars(query)))
            if missing:
                listed = ", ".join(map(str, missing))
                ids = f"{listed} is not the id" if len(missing) == 1 else f"{listed} are not ids"
                raise InvalidFieldError(key, f"{ids} of any {_rows_named(target)} you can see")
            links[key] = wanted
        return links

    async def _refuse_if_referred_to(self, row: ModelT) -> None:
        """A row that others refer to without cascade or set null is not deleted: the answer
        names the rows that refer to it."""
        for key in referring_keys(self.model):
            referring = key.parent.table
            query = select(referring.c.id).where(key.parent == row.id)
            found = list(await self.session.scalars(query.order_by(referring.c.id).limit(10)))
            if found:
                listed = ", ".join(map(str, found))
                raise ConflictError(
                    f"{self.noun.capitalize()} {row.id} is referred to by {referring.name} "
                    f"{listed} ({key.parent.name}); delete them or change them first"
                )

    def _page_query(
        self, params: ListParams, *, instances: bool
    ) -> tuple[PageQuery, dict[str, Any]]:
        """The statements of the list `params` asks for, of the rows the user may see, and what
        they bind besides the page."""
        filters, values = params.filters_given()
        owner = self._owner
        query = select_page(
            type(self).owned_by,
            self.model,
            filters,
            tuple(params.sort),
            instances=instances,
            owned=owner is not None,
        )
        return query, values | {OWNER_ID.key: owner}

    def _by_id(self, row_id: int, *, instances: bool) -> tuple[Select[Any], dict[str, int | None]]:
        """The statement reading the row of this id if the user may see it, and what it binds."""
        owner = self._owner
        query = select_by_id(
            type(self).owned_by, self.model, instances=instances, owned=owner is not None
        )
        return query, {ROW_ID.key: row_id, OWNER_ID.key: owner}

    def _not_found(self) -> NotFoundError:
        return NotFoundError(f"{self.noun.capitalize()} not found")

    @staticmethod
    def owned_by(
        query: Select[RowT], model: type[OwnedBase], owner: int | BindParameter[int] | None
    ) -> Select[RowT]:
        """The query's rows of `model` that `owner` owns; every row for None (a superuser).

        The one visibility rule of lists, reads by id and references. A service may add to it:
        override it as a staticmethod that calls `OwnedCrud.owned_by`. Reads by id and lists apply
        it once, to statements they keep (`owner` then a bound parameter), so a rule of your own
        must not use Python values that change, such as the time: use SQL's (`func.now()`).
        """
        return query if owner is None else query.where(model.owner_id == owner)

    def _owned(self, query: Select[RowT], model: type[OwnedBase]) -> Select[RowT]:
        """The query's rows of `model` that the user may see."""
        return self.owned_by(query, model, self._owner)

    @property
    def _owner(self) -> int | None:
        """Whose rows the user may see: their own, or every row (None) for a superuser."""
        return None if self.user.is_superuser else self.user.id

    async def _relink(
        self, connection: AsyncConnection, row: RowData, links: dict[str, set[int]]
    ) -> None:
        """Link the row to the rows that `links` gives by key (`tag_ids`) in place of those that
        `row` lists, and list them in `row`."""
        for key, wanted in links.items():
            unlink, link = link_writes(many_to_many(self.model)[key])
            linked = set(row[key])
            if gone := linked - wanted:
                await connection.execute(unlink, {"link_from": row["id"], "unlink_to": list(gone)})
            if added := wanted - linked:
                new = [{"link_from": row["id"], "link_to": to} for to in sorted(added)]
                await connection.execute(link, new)
            row[key] = tuple(sorted(wanted))

    async def _record(
        self, connection: AsyncConnection, operation: Operation, row: RowData
    ) -> None:
        """Record the write of `row` for the live feed, in the write's transaction."""
        event = one_event(self.model.__tablename__, operation, row["id"], row["owner_id"])
        await connection.run_sync(record, ONE_EVENT, event)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """The session's connection, for a write committed as the block ends. A domain error
        raised in the block leaves the rollback to the session's close, as the route ends."""
        try:
            yield await self.session.connection()
            await self.session.commit()
        except IntegrityError as error:
            await self.session.rollback()
            if is_foreign_key_violation(error):
                # A row it refers to was checked above, then deleted by another request: its
                # owner too, whose state this process may still hold (auth/principal.py).
                raise ConflictError(
                    f"A row this {self.noun} refers to was deleted meanwhile"
                ) from error
            columns = unique_violation_columns(error)
            if columns is None:
                # Validation lets no NULL through: this is a bug, not the client's conflict,
                # and it should fail loudly.
                raise
            clash = " and ".join(columns) or "unique value"
            raise ConflictError(f"Another {self.noun} has the same {clash}") from error


@cache
def link_writes(relation: RelationshipProperty[Any]) -> tuple[Delete, Insert]:
    """The statements that unlink a row (`link_from`) from rows (`unlink_to`) of a many-to-many,
    and link it to one (`link_to`): names no link column has, since those all end in `_id`."""
    own, other = link_columns(relation)
    # A many-to-many's link table, which the mapping types as any FROM clause.
    table = cast(Table, relation.secondary)
    row_id: BindParameter[int] = bindparam("link_from")
    unlink = delete(table).where(own == row_id, other.in_(bindparam("unlink_to", expanding=True)))
    return unlink, insert(table).values({own: row_id, other: bindparam("link_to")})
