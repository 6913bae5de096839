"""A request id for every request, one access-log line each (JSON in production), and the
request's figures for the metrics when they are on (metrics.py).

The id comes from the client's `X-Request-ID` when it is a sane one (a proxy's or a caller's),
else it is made here; it goes back in the response's `X-Request-ID` and onto every log record
written while the request is served, errors included, so one id finds all a request did.
"""

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as json_string
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings

ID_HEADER = b"x-request-id"
# Printable, short and free of separators: anything else from a client is replaced, not logged.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: ContextVar[str] = ContextVar("request_id", default="-")
ACCESS_LOGGER = f"{__package__}.access"
# The shape of JsonFormatter's lines; the strings that vary come quoted by json_string.
JSON_LINE = (
    '{"time": "%s.%03d+00:00", "level": "INFO", "logger": "%s", "message": %s, "method": %s, '
    '"path": %s, "status": %d, "duration_ms": %r, "request_id": "%s"}\n'
)


class RequestObserver(Protocol):
    def observe(self, method: str, route: str, status: int, seconds: float) -> None: ...


class AccessLog:
    """Writes a request's access-log line to stderr, among the other records of `serve`: a
    JSON object in production, else a line of text, shaped as `JsonFormatter` and the text
    format of `logging_config` shape theirs.

    Written here rather than through `logging`: a record, its handlers and a generic JSON
    encoder cost four times as much, a fifth of the CPU of answering /health.
    """

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self._second = -1
        self._stamp = ""

    def write(self, method: str, path: str, status: int, duration_ms: float, id_: str) -> None:
        now = time.time()
        milliseconds = int(now * 1000) % 1000
        message = f"{method} {path} {status} {duration_ms} ms"
        if self.as_json:
            line = JSON_LINE % (
                self._utc_second(now),
                milliseconds,
                ACCESS_LOGGER,
                json_string(message),
                json_string(method),
                json_string(path),
                status,
                duration_ms,
                id_,
            )
        else:
            if not message.isprintable():
                # A decoded path may hold a line break: it must not start a line of its own.
                message = json_string(message)[1:-1]
            local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            line = f"{local},{milliseconds:03d} INFO    {id_} {ACCESS_LOGGER}: {message}\n"
        # Looked up for each line, as tests swap it to capture it.
        sys.stderr.write(line)

    def _utc_second(self, now: float) -> str:
        """`now` in UTC to the second, formatted once a second."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._stamp


class RequestLogMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: AccessLog | None = None,
        metrics: RequestObserver | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == ID_HEADER), b"").decode(
            "latin-1"
        )
        # Set, never reset: each request has a task (and so a context) of its own, and the
        # server's own record of an error, written after the app returns, must carry it too.
        current_id = given if SANE_REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        request_id.set(current_id)
        id_bytes = current_id.encode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Appended as raw ASGI headers: no response sets this one itself.
                message["headers"] = [*message.get("headers", ()), (ID_HEADER, id_bytes)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                # The router has put the matched route on the scope by now.
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.observe(scope["method"], route, status, seconds)
            if self.access_log is not None:
                self.access_log.write(
                    scope["method"], scope["path"], status, round(seconds * 1000, 1), current_id
                )


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


# The attributes every LogRecord has: anything else on a record came as `extra` (but uvicorn's
# colored copy of its message).
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and any `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {
            name: value for name, value in vars(record).items() if name not in STANDARD_ATTRIBUTES
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(settings: Settings) -> dict[str, Any]:
    """The logging of `serve`, for uvicorn's `log_config`: the app's, uvicorn's and the access
    log, JSON lines in production and readable text elsewhere, each with the request id."""
    production = settings.environment == "production"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)-7s %(request_id)s %(name)s: %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json" if production else "text",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"level": settings.log_level},
            # Replaced by the AccessLog of RequestLogMiddleware, which knows the request id.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }
