"""The refusals an operation can answer: 422's body, and the others for the OpenAPI document."""

import json
from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

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


def document_unreadable_bodies(routes: list[BaseRoute]) -> None:
    """FastAPI answers 400 to a body it cannot decode (bytes that are not UTF-8) before any
    validation: every operation that reads a body says so."""
    for route in routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            route.responses.setdefault(400, refusal("The body is not text in UTF-8"))


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
