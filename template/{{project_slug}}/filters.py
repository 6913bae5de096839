"""What each list parameter tests, declared on its ListParams field next to its type.

`price_min: Annotated[Decimal | None, AtLeast("price")] = None` keeps the rows whose price is at
least the given value; a parameter left out (None) tests nothing. The service reads these markers
(ListParams.conditions), so a resource's filters are all in its schemas module.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import InstrumentedAttribute

LIKE_ESCAPE = "\\"


class Filter(ABC):
    @abstractmethod
    def condition(self, model: type[Any], value: Any) -> ColumnElement[bool]: ...


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


@dataclass(frozen=True)
class IsNull(Filter):
    """`true` keeps the rows without a value, `false` those with one."""

    column: str

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
        # The client's % and _ are text to find, not wildcards.
        term = str(value)
        for special in (LIKE_ESCAPE, "%", "_"):
            term = term.replace(special, LIKE_ESCAPE + special)
        pattern = f"%{term}%"
        return or_(
            *(_column(model, name).ilike(pattern, escape=LIKE_ESCAPE) for name in self.columns)
        )
