import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import DomainError

# Where sqladmin reports what its create, edit and delete pages catch.
SQLADMIN_LOGGER = "sqladmin.application"


class ChangeRefusedError(Exception):
    """A change the admin panel refuses; sqladmin shows its text above the form or the list."""


@contextmanager
def refusals_for_admin() -> Iterator[None]:
    """Reword the services' refusals (domain errors, invalid input) as a `ChangeRefusedError`."""
    try:
        yield
    except DomainError as error:
        raise ChangeRefusedError(error.detail) from error
    except ValidationError as error:
        problems = (
            f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
        )
        raise ChangeRefusedError("; ".join(problems)) from error


def check_as_the_api_does(schema: type[BaseModel], form: Mapping[str, Any]) -> None:
    """Refuse a form whose values of `schema`'s fields the API would refuse in a body of that
    schema, with the API's reasons.

    The admin so stores nothing the API could not, and every row reads back as the API documents
    it: read schemas do not check stored values again (schemas.py, `Stored`). A field left blank
    is checked as null, which is what the admin stores.
    """
    values = {
        name: None if form[name] == "" else form[name]
        for name in schema.model_fields
        if name in form
    }
    with refusals_for_admin():
        schema.model_validate(values)


def not_a_refusal(record: logging.LogRecord) -> bool:
    """A filter for sqladmin's logger that drops its report of a refusal: a change the admin or
    a service refused, or a row that is not there.

    sqladmin logs each exception its pages catch as an error, with its traceback. A refusal is
    the user's mistake: the page shows its reason, and the access log has the request. Errors of
    the app itself are still reported.
    """
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, ChangeRefusedError | DomainError):
        return False
    # sqladmin refuses with HTTP exceptions of its own: 404 for a row that is not there.
    status_code = getattr(error, "status_code", None)
    return not (isinstance(status_code, int) and status_code < 500)
