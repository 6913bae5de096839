from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import DomainError


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
