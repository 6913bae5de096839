from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, UTCDateTime, utc_now

# Integer on SQLite, where only INTEGER PRIMARY KEY numbers rows by itself.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class ChangeEvent(Base):
    """One create, update or delete of a resource's row, written in the transaction that made it
    (changes/events.py): its id is the feed's cursor, in commit order."""

    __tablename__ = "change_events"
    # SQLite would otherwise reuse the id of a deleted last row.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(EventId, primary_key=True)
    resource: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(6))
    row_id: Mapped[int]
    owner_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
