"""The refusals an operation can answer besides its success and 422, for the OpenAPI document."""

from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class ErrorDetail(BaseModel):
    """The body of every refusal but 422: what went wrong, for people."""

    detail: str


def refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorDetail, "description": description}


DATABASE_UNAVAILABLE: Responses = {
    503: refusal("The database is unavailable; retry after `Retry-After` seconds")
}
AUTHENTICATED: Responses = {
    401: refusal("Missing, invalid or expired access token"),
    403: refusal("The user is inactive"),
    **DATABASE_UNAVAILABLE,
}
SUPERUSER: Responses = {
    **AUTHENTICATED,
    403: refusal("The user is inactive or not a superuser"),
}
NOT_FOUND: Responses = {404: refusal("No such row, or it belongs to another user")}
UNIQUE_CLASH: Responses = {409: refusal("Another row has the same value of a unique field")}
