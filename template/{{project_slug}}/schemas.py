"""Field types shared by the resource schemas."""

from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

ValueT = TypeVar("ValueT")


def _refuse_null(value: ValueT) -> ValueT:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def _refuse_nul_characters(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# For PATCH bodies: `Annotated[int | None, NotNull] = None` lets a field be left out while an
# explicit null is refused (defaults are not validated, given values are).
NotNull = AfterValidator(_refuse_null)

# PostgreSQL refuses NUL in text, and INTEGER is 32 bits on every database we run on.
Text = Annotated[str, AfterValidator(_refuse_nul_characters)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
