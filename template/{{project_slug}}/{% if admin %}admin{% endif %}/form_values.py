"""What the admin's forms post, read as it was meant: text with its line breaks as typed, dates
before the year 1000 as shown, and an edit's values that the form could not show exactly kept as
stored when posted back unchanged."""

from datetime import datetime
from typing import Any

from sqladmin.fields import DateField, TimezoneAwareDateTimeField
from sqladmin.forms import ConverterCallable, ModelConverter
from sqlalchemy import Text, inspect
from sqlalchemy.orm import ColumnProperty, RelationshipProperty
from wtforms import Field
from wtforms.fields import DateTimeField
from wtforms.fields.core import UnboundField


class FormConverter(ModelConverter):
    """sqladmin's form fields for the columns, which read back what they show:

    - text with its line breaks as typed: browsers post a textarea's as CRLF (as HTML specifies)
      where the API's clients send LF, and a maximum length counts each as one character, as the
      browser's own count does;
    - a date or a datetime before the year 1000, whose year sqladmin's fields show without its
      leading zeros (999-03-04): neither the date picker nor the field reads that back, so
      every save of its row was refused.
    """

    def get_converter(
        self, prop: ColumnProperty[Any] | RelationshipProperty[Any]
    ) -> ConverterCallable:
        convert = super().get_converter(prop)
        text = isinstance(prop, ColumnProperty) and isinstance(prop.columns[0].type, Text)

        # The return type quoted: UnboundField is generic in wtforms' type stubs only.
        def convert_to_read_back(
            model: type,
            prop: ColumnProperty[Any] | RelationshipProperty[Any],
            kwargs: dict[str, Any],
        ) -> "UnboundField[Any]":
            if text:
                # A new list: sqladmin copies the view's form_args shallowly.
                kwargs = {**kwargs, "filters": [*kwargs["filters"], _line_breaks_as_typed]}
            field = convert(model=model, prop=prop, kwargs=kwargs)
            # Its class replaced, not a new UnboundField: the order they are made in is the
            # order of the form's fields.
            field.field_class = _FOUR_DIGIT_YEARS.get(field.field_class, field.field_class)
            return field

        return convert_to_read_back


def _line_breaks_as_typed(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


class FourDigitYearDateField(DateField):
    def _value(self) -> str:
        return _shown_with_four_digit_year(self)


class FourDigitYearDateTimeField(TimezoneAwareDateTimeField):
    def _value(self) -> str:
        return _shown_with_four_digit_year(self)


_FOUR_DIGIT_YEARS: dict[type[Field], type[Field]] = {
    DateField: FourDigitYearDateField,
    TimezoneAwareDateTimeField: FourDigitYearDateTimeField,
}


def _shown_with_four_digit_year(field: DateTimeField) -> str:
    """What wtforms' own fields show, the year in four digits: strftime's %Y leaves out the
    leading zeros of a year before 1000."""
    if field.raw_data:
        # As posted, when the form is shown again with its errors.
        return " ".join(field.raw_data)
    if field.data is None:
        return ""
    year = f"{field.data.year:04d}"
    return field.data.strftime(field.format[0].replace("%Y", year))


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
