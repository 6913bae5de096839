from typing import Any

from sqladmin.filters import OperationColumnFilter, get_column_obj
from sqlalchemy import Integer, Select

from ..schemas import INT32_MAX, INT32_MIN


class ColumnFilter(OperationColumnFilter):
    """sqladmin's filter of a list by an operation on a column, kept to the operations it offers
    for the column's type and to values the column can hold.

    Another operation (`contains` on a number, which PostgreSQL refuses) or an int beyond
    INTEGER's range leaves the list unfiltered, as sqladmin does with a value that is not a
    number, where the database would fail on it (500).
    """

    async def get_filtered_query(
        self, query: Select[Any], operation: str, value: Any, model: Any
    ) -> Select[Any]:
        column = get_column_obj(self.column, model)
        offered = {name for name, _ in self.get_operation_options(column)}
        if operation not in offered or _beyond_integer(column, value):
            return query
        return await super().get_filtered_query(query, operation, value, model)


def _beyond_integer(column: Any, value: Any) -> bool:
    if not isinstance(column.type, Integer):
        return False
    try:
        number = int(str(value).strip())
    except ValueError:
        # Not a number: sqladmin leaves it out.
        return False
    return not INT32_MIN <= number <= INT32_MAX
