"""Field types shared by the resource schemas."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, TypeVar

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

ValueT = TypeVar("ValueT")

INT32_MAX = 2**31 - 1
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _refuse_null(value: ValueT) -> ValueT:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def _refuse_unstorable_characters(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.isascii():
        # JSON's "\udc80" escapes decode to lone surrogates, which no database driver encodes.
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must not contain unpaired surrogates (U+D800 to U+DFFF)") from None
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


def _refuse_timestamps(value: object) -> object:
    # pydantic reads a number (or a numeric string, as every query value is) as a Unix time.
    if isinstance(value, int | float) or (isinstance(value, str) and not ISO_DATE.fullmatch(value)):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


# For PATCH bodies: `Annotated[int | None, NotNull] = None` lets a field be left out while an
# explicit null is refused (defaults are not validated, given values are).
NotNull = AfterValidator(_refuse_null)

# PostgreSQL refuses NUL in text, and INTEGER is 32 bits on every database we run on. Put
# `Storable` after a Field's length limits, so that they keep their usual messages.
Storable = AfterValidator(_refuse_unstorable_characters)
StorableStr = Annotated[str, Storable]
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
# Stored in UTC: a time near year 1 or 9999 that does not fit once converted is refused here.
AwareUTCDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
IsoDate = Annotated[date, BeforeValidator(_refuse_timestamps)]
# Row ids in paths: beyond INTEGER's range no row can exist, and the database would refuse it.
RowId = Annotated[int, Path(ge=1, le=INT32_MAX)]
