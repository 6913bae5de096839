"""The refusals an operation can answer: the services' domain errors and invalid input as HTTP,
and each refusal's entry in the OpenAPI document."""

import json
from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from .errors import (
    ConflictError,
    DomainError,
    InvalidFieldError,
    InvalidInputError,
    NotAuthenticatedError,
    NotFoundError,
    PermissionDeniedError,
    TooManyAttemptsError,
)

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
REFERRED_TO: Responses = {409: refusal("Other rows refer to this one; the answer names them")}


def document_body_refusals(routes: list[BaseRoute]) -> None:
    """Every operation that reads a body says what is refused before any validation: 400 for a
    body FastAPI cannot decode (bytes that are not UTF-8), 413 for one over
    `MAX_REQUEST_BODY_BYTES` (body_size.py)."""
    for route in routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            route.responses.setdefault(400, refusal("The body is not text in UTF-8"))
            route.responses.setdefault(413, refusal("The body is over `MAX_REQUEST_BODY_BYTES`"))


# By kind; a kind of error not named here answers as the nearest kind it derives from.
STATUS_CODES: dict[type[DomainError], int] = {
    DomainError: status.HTTP_400_BAD_REQUEST,
    InvalidInputError: status.HTTP_400_BAD_REQUEST,
    InvalidFieldError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    NotAuthenticatedError: status.HTTP_401_UNAUTHORIZED,
    PermissionDeniedError: status.HTTP_403_FORBIDDEN,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    TooManyAttemptsError: status.HTTP_429_TOO_MANY_REQUESTS,
}


async def domain_error(request: Request, error: Exception) -> JSONResponse:
    """A service's refusal as the HTTP answer of its kind, with `{"detail": ...}`."""
    if not isinstance(error, DomainError):
        raise error
    headers = {}
    if isinstance(error, NotAuthenticatedError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, TooManyAttemptsError):
        headers["Retry-After"] = str(error.retry_after)
    status_code = next(STATUS_CODES[kind] for kind in type(error).__mro__ if kind in STATUS_CODES)
    if isinstance(error, InvalidFieldError):
        # Shaped like FastAPI's own 422, so that clients read one kind of field error.
        problem = {"loc": ["body", error.field], "msg": error.detail, "type": "invalid_reference"}
        return JSONResponse({"detail": [problem]}, status_code=status_code)
    return JSONResponse({"detail": error.detail}, status_code=status_code, headers=headers)


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, which any input can be written in."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422, escaped: a refused input echoed in it may hold half a UTF-16 pair (JSON's
    "\\udc80"), which cannot be written as UTF-8."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    return AsciiJSONResponse(
        {"detail": jsonable_encoder(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )
