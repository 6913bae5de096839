from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BindParameter, Integer, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .schemas import INT32_MAX

RowT = TypeVar("RowT")
ItemT = TypeVar("ItemT")

MAX_PAGE_SIZE = 100


class PageParams(BaseModel):
    """Query parameters of every list endpoint; unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 50
    # Ids are 32-bit, so no table has more rows; a larger offset would overflow the database.
    offset: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Paginated(Generic[RowT]):
    items: Sequence[RowT]
    total: int
    limit: int
    offset: int


# What a page binds on execution, so that the statements of a list can be built once and kept.
PAGE_LIMIT: BindParameter[int] = bindparam("page_limit", type_=Integer)
PAGE_OFFSET: BindParameter[int] = bindparam("page_offset", type_=Integer)


@dataclass(frozen=True)
class PageQuery:
    """A list's statements: the count of its rows, and a page of them."""

    count: Select[Any]
    rows: Select[Any]

    @classmethod
    def of(cls, query: Select[Any]) -> "PageQuery":
        """The statements of `query`'s rows: their count, and the page PAGE_LIMIT and
        PAGE_OFFSET name."""
        return cls(
            count=select(func.count()).select_from(query.order_by(None).subquery()),
            rows=query.limit(PAGE_LIMIT).offset(PAGE_OFFSET),
        )


async def paginate(
    database: AsyncSession | AsyncConnection,
    query: PageQuery,
    params: PageParams,
    read: Callable[[Select[Any], Mapping[str, Any]], Awaitable[Iterable[RowT]]],
    values: Mapping[str, Any] | None = None,
) -> Paginated[RowT]:
    """The page of `query`'s rows that `params` names, as `read` reads them, and their total,
    counted on `database`; `values` holds what else the statements bind."""
    bound = {**(values or {}), PAGE_LIMIT.key: params.limit, PAGE_OFFSET.key: params.offset}
    total = await database.scalar(query.count, bound)
    rows = await read(query.rows, bound)
    return Paginated(list(rows), total or 0, params.limit, params.offset)
