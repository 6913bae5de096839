from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

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
