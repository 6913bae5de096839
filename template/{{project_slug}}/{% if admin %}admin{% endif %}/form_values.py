"""What the admin's forms post, read as it was meant: text with its line breaks as typed, and an
edit's values that the form could not show exactly kept as stored when posted back unchanged."""

from datetime import datetime
from typing import Any

from sqladmin.forms import ConverterCallable, ModelConverter
from sqlalchemy import Text, inspect
from sqlalchemy.orm import ColumnProperty, RelationshipProperty
from wtforms.fields.core import UnboundField


class FormConverter(ModelConverter):
    """sqladmin's form fields for the columns, with text read as typed: browsers post a
    textarea's line breaks as CRLF (as HTML specifies) where the API's clients send LF, and a
    maximum length counts each as one character, as the browser's own count does."""

    def get_converter(
        self, prop: ColumnProperty[Any] | RelationshipProperty[Any]
    ) -> ConverterCallable:
        convert = super().get_converter(prop)
        if not (isinstance(prop, ColumnProperty) and isinstance(prop.columns[0].type, Text)):
            return convert

        # The return type quoted: UnboundField is generic in wtforms' type stubs only.
        def convert_text(
            model: type,
            prop: ColumnProperty[Any] | RelationshipProperty[Any],
            kwargs: dict[str, Any],
        ) -> "UnboundField[Any]":
            # A new list: sqladmin copies the view's form_args shallowly.
            filters = [*kwargs["filters"], _line_breaks_as_typed]
            return convert(model=model, prop=prop, kwargs={**kwargs, "filters": filters})

        return convert_text


def _line_breaks_as_typed(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def keep_what_the_form_could_not_show(data: dict[str, Any], row: Any) -> None:
    """Put back in `data` the stored value of each column that the edit form posted as it showed
    it, where it could not show it exactly, so that saving an edit changes only what was changed:

    - a datetime's fraction of a second: the picker shows whole seconds;
    - text's line breaks stored as CRLF or CR: the form reads them as LF (FormConverter).
    """
    for name in data.keys() & inspect(row).mapper.column_attrs.keys():
        stored = getattr(row, name)
        if _shown_as(stored, data[name]):
            data[name] = stored


def _shown_as(stored: object, posted: object) -> bool:
    """Whether the form posts `posted` for `stored` left as it showed it."""
    if isinstance(stored, datetime) and isinstance(posted, datetime):
        return posted == stored.replace(microsecond=0)
    if isinstance(stored, str) and isinstance(posted, str):
        return _line_breaks_as_typed(stored) == posted
    return False
