from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ForeignKey, Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .database import Base, UTCDateTime, unique_violation_columns, utc_now
from .errors import ConflictError, NotFoundError
from .pagination import PageParams, Paginated, paginate
from .users.model import User


class OwnedBase(Base):
    """Columns every resource row has: its id, its owner and when it was made and changed."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)


ModelT = TypeVar("ModelT", bound=OwnedBase)


class ListParams(PageParams):
    """Paging, `sort` (a field name, `-` in front for descending) and one filter per field."""

    sort: str = "id"


class OwnedCrud(Generic[ModelT]):
    """CRUD on rows owned by the current user; a superuser reaches every row.

    Rows of other users answer 404, exactly like rows that do not exist.
    """

    def __init__(
        self,
        model: type[ModelT],
        session: AsyncSession,
        user: User,
        *,
        noun: str,
    ) -> None:
        self.model = model
        self.session = session
        self.user = user
        self.noun = noun

    async def list(self, params: ListParams) -> Paginated[ModelT]:
        query = self._visible()
        for name, value in params.model_dump(exclude=set(ListParams.model_fields)).items():
            if value is not None:
                query = query.where(getattr(self.model, name) == value)
        column = getattr(self.model, params.sort.removeprefix("-"))
        order = column.desc() if params.sort.startswith("-") else column.asc()
        return await paginate(self.session, query.order_by(order, self.model.id), params)

    async def get(self, row_id: int) -> ModelT:
        row = await self.session.scalar(self._visible().where(self.model.id == row_id))
        if row is None:
            raise NotFoundError(f"{self.noun.capitalize()} not found")
        return row

    async def create(self, data: BaseModel) -> ModelT:
        row = self.model(**data.model_dump(), owner_id=self.user.id)
        self.session.add(row)
        await self._commit()
        return row

    async def update(self, row_id: int, data: BaseModel) -> ModelT:
        row = await self.get(row_id)
        for name, value in data.model_dump(exclude_unset=True).items():
            setattr(row, name, value)
        await self._commit()
        return row

    async def delete(self, row_id: int) -> None:
        await self.session.delete(await self.get(row_id))
        await self.session.commit()

    def _visible(self) -> Select[ModelT]:
        query = select(self.model)
        if not self.user.is_superuser:
            query = query.where(self.model.owner_id == self.user.id)
        return query

    async def _commit(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError as error:
            await self.session.rollback()
            columns = unique_violation_columns(error)
            if columns is None:
                # Validation lets no NULL or dangling reference through: this is a bug, not
                # the client's conflict, and it should fail loudly.
                raise
            clash = " and ".join(columns) or "unique value"
            raise ConflictError(f"Another {self.noun} has the same {clash}") from error
