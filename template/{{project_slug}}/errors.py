"""The refusals of the services, for every caller: routes, the admin panel and the CLI.

Nothing here knows HTTP: `responses.py` maps each kind to its status code, once, for the app.
"""


class DomainError(Exception):
    """A request the service refuses; `detail` says why, for people."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    """No such row, or one the caller may not see (the two are told apart to nobody)."""


class ConflictError(DomainError):
    """The change clashes with rows that exist: a unique value taken, the last superuser."""


class NotAuthenticatedError(DomainError):
    """Missing, wrong or expired credentials."""


class PermissionDeniedError(DomainError):
    """Known credentials that may not do this: an inactive user, a user who is no superuser."""


class InvalidInputError(DomainError):
    """Well-formed input that the service refuses, such as a wrong current password."""


class InvalidFieldError(DomainError):
    """A well-formed field of the body that the service refuses, such as a reference to a row
    the user cannot see; answered as a validation error of that field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class TooManyAttemptsError(DomainError):
    """Refused until `retry_after` seconds have passed."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
