from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    params: PageParams,
    read: Callable[[Select[Any]], Awaitable[Iterable[RowT]]],
) -> Paginated[RowT]:
    """The page of `query`'s rows that `params` names, as `read` reads them, and their total."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await read(query.limit(params.limit).offset(params.offset))
    return Paginated(list(rows), total or 0, params.limit, params.offset)
