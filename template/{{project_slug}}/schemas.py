"""Field types shared by the resource schemas."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    HttpUrl,
    TypeAdapter,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic.networks import validate_email
from pydantic_core import CoreSchema, core_schema

ValueT = TypeVar("ValueT")

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_SORT_KEYS = 5
MAX_INCLUDES = 10
MAX_LISTED_VALUES = 100
WEB_URL = TypeAdapter(HttpUrl)
# An email address takes about 25 microseconds to check, and clients send the same values again
# (a list's filters, a form saved twice): the values checked last are remembered (a few MB at
# most).
CHECKED_FORMATS_KEPT = 10_000


@dataclass(frozen=True)
class Unchecked:
    """See Stored: JSON is checked as the annotated type, Python values are taken as they are."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=handler(source), python_schema=core_schema.any_schema()
        )


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


@lru_cache(maxsize=CHECKED_FORMATS_KEPT)
def _email_address(value: str) -> str:
    # The address as email-validator normalizes it: the domain in lower case.
    return validate_email(value)[1]


@lru_cache(maxsize=CHECKED_FORMATS_KEPT)
def _web_url(value: str) -> str:
    # Checked, but kept as written: HttpUrl would add a trailing slash to a bare host.
    WEB_URL.validate_python(value)
    return value


def _split_commas(value: object) -> object:
    """`["-price,title"]` as `["-price", "title"]`; anything else is left to validation."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [key for item in value for key in item.split(",")]
    return value


@dataclass(frozen=True)
class StrFormat:
    """A format of str(N) fields: checked after the str's own limits, named in the JSON schema."""

    name: str
    check: Callable[[str], str]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["format"] = self.name
        return json_schema


# For PATCH bodies: `Annotated[int | None, NotNull] = None` lets a field be left out while an
# explicit null is refused (defaults are not validated, given values are).
NotNull = AfterValidator(_refuse_null)

# PostgreSQL refuses NUL in text, and INTEGER is 32 bits on every database we run on. Put
# `Storable` after a Field's length limits, so that they keep their usual messages.
Storable = AfterValidator(_refuse_unstorable_characters)
StorableStr = Annotated[str, Storable]
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
# Stored in UTC: a time near year 1 or 9999 that does not fit once converted is refused here.
AwareUTCDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
IsoDate = Annotated[date, BeforeValidator(_refuse_timestamps)]
# Put after a str's Field(max_length=N): a value too long keeps its usual message.
EmailAddress = StrFormat("email", _email_address)
WebUrl = StrFormat("uri", _web_url)
# The text a `_contains` or `q` filter looks for.
SearchTerm = Annotated[str, Field(min_length=1, max_length=200), Storable]
# `sort=-price,title` or `sort=-price&sort=title`, up to MAX_SORT_KEYS keys.
SortKeys = Annotated[
    tuple[ValueT, ...],
    BeforeValidator(_split_commas),
    Field(min_length=1, max_length=MAX_SORT_KEYS),
]
# `include=author,editor` or repeated: the references a read embeds.
Includes = Annotated[
    tuple[ValueT, ...], BeforeValidator(_split_commas), Field(max_length=MAX_INCLUDES)
]
# The id of a row a field refers to, and the ids of the rows a many-to-many links.
RefId = Annotated[int, Field(ge=1, le=INT32_MAX)]
RefIds = Annotated[tuple[RefId, ...], Field(max_length=MAX_LISTED_VALUES)]
# The values of an `_in` filter, given as `status_in=draft&status_in=published`.
ValueList = Annotated[list[ValueT], Field(min_length=1, max_length=MAX_LISTED_VALUES)]
# Each field of a read schema, documented as ValueT. The app validates the rows it answers with
# in Python: values read from the database, checked when they were written, go out as they are,
# written as JSON by ValueT's serializer (so they must be of ValueT's Python type). Checking them
# again cost a list of 100 rows 8% of its CPU. A client's JSON (model_validate_json) is checked as
# ValueT, but FastAPI validates requests in Python: a read schema must never take input, and
# tests/test_openapi.py fails on a route that takes one.
Stored = Annotated[ValueT, Unchecked()]
# Row ids in paths: beyond INTEGER's range no row can exist, and the database would refuse it.
RowId = Annotated[int, Path(ge=1, le=INT32_MAX)]
