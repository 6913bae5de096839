"""What each list parameter tests, declared on its ListParams field next to its type.

`price_min: Annotated[Decimal | None, AtLeast("price")] = None` keeps the rows whose price is at
least the given value; a parameter left out (None) tests nothing. The service reads these markers
(ListParams.filters_given), so a resource's filters are all in its schemas module.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import BindParameter, ColumnElement, bindparam, or_
from sqlalchemy.orm import InstrumentedAttribute

LIKE_ESCAPE = "\\"


class Filter(ABC):
    """A list parameter's test of the rows.

    A list's statements are built once for each set of filters given, and kept (crud.py), so a
    test is written on a bound parameter (`parameter`), not on the value: the parameter is bound
    to `bind(value)` on execution. A test whose SQL differs by value sets `varies_by_value`, and
    is given the value itself; its statements are kept for each value, so the value must be
    hashable and take few values (IsNull's true and false).
    """

    varies_by_value: ClassVar[bool] = False

    @abstractmethod
    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]: ...

    def parameter(self, key: str) -> BindParameter[Any]:
        return bindparam(key)

    def bind(self, value: Any) -> Any:
        return value


def _column(model: type[Any], name: str) -> InstrumentedAttribute[Any]:
    column: InstrumentedAttribute[Any] = getattr(model, name)
    return column


@dataclass(frozen=True)
class Equals(Filter):
    column: str

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = _column(model, self.column) == value
        return condition


@dataclass(frozen=True)
class AtLeast(Filter):
    column: str

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = _column(model, self.column) >= value
        return condition


@dataclass(frozen=True)
class AtMost(Filter):
    column: str

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = _column(model, self.column) <= value
        return condition


@dataclass(frozen=True)
class OneOf(Filter):
    column: str

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        return _column(model, self.column).in_(value)

    def parameter(self, key: str) -> BindParameter[Any]:
        # Bound to the list of values, whatever its length.
        return bindparam(key, expanding=True)


@dataclass(frozen=True)
class IsNull(Filter):
    """`true` keeps the rows without a value, `false` those with one."""

    column: str
    varies_by_value: ClassVar[bool] = True

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        column = _column(model, self.column)
        return column.is_(None) if value else column.is_not(None)


@dataclass(frozen=True)
class Has(Filter):
    """The rows whose many-to-many `relation` links the row of the given id."""

    relation: str

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        relation = _column(model, self.relation)
        target = relation.property.mapper.class_
        return relation.any(target.id == value)


class Contains(Filter):
    """The text is in any of the columns, ignoring case (ASCII case only on SQLite)."""

    def __init__(self, *columns: str) -> None:
        self.columns = columns

    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]:
        return or_(
            *(_column(model, name).ilike(value, escape=LIKE_ESCAPE) for name in self.columns)
        )

    def bind(self, value: Any) -> str:
        # The client's % and _ are text to find, not wildcards.
        term = str(value)
        for special in (LIKE_ESCAPE, "%", "_"):
            term = term.replace(special, LIKE_ESCAPE + special)
        return f"%{term}%"
