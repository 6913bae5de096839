"""Stored values that an edit form cannot show exactly, kept when it posts them back unchanged."""

from datetime import datetime
from typing import Any

from sqlalchemy import inspect


def keep_what_the_form_could_not_show(data: dict[str, Any], row: Any) -> None:
    """Put back in `data` the stored value of each column that the edit form posted as it showed
    it, where it could not show it exactly, so that saving an edit changes only what was changed:

    - a datetime's fraction of a second: the picker shows whole seconds;
    - text's line breaks: browsers post them as CRLF.
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
        return posted.replace("\r\n", "\n") == stored
    return False
