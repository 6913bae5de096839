"""The baseline: raw Starlette and asyncpg doing the rendered app's SQL and JSON by hand.

It serves the same routes on the same PostgreSQL tables, with the same statements (a transaction,
the user by id, then the row query; a write recorded in `change_events` in its transaction, as the
app's live feed has each one recorded), the same argon2id verification in a capped thread pool and
the same JSON bodies, but no ORM, no dependency injection and no pydantic validation.

Served with `uvicorn baseline:create_app --factory`; reads DATABASE_URL and SECRET_KEY.
`baseline:create_floor_app` serves the same handlers as bare FastAPI routes: the floor, what
FastAPI's own routing and request handling add to the same work.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import argon2
import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

USER_COLUMNS = "id, email, full_name, password_hash, is_active, is_superuser, created_at"
BOOK_COLUMNS = (
    "id, owner_id, title, author, summary, published_on, price, in_stock, created_at, updated_at"
)
WRITABLE = ("title", "author", "summary", "published_on", "price", "in_stock")
ACCESS_MINUTES = 15
REFRESH_DAYS = 14
# The app's statement recording a write (changes/events.py): under its advisory lock, so that
# event ids follow commit order, then a notification for the feeds that listen.
RECORD_WRITE = """
    WITH turn AS (SELECT pg_advisory_xact_lock(7264139)),
    recorded AS (
        INSERT INTO change_events (resource, operation, row_id, owner_id, created_at)
        SELECT 'books', $1, $2, $3, $4 FROM turn RETURNING id
    )
    SELECT pg_notify('change_events', '') FROM recorded
"""
JWT_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail


def routes() -> list[Route]:
    return [
        Route("/health", health),
        Route("/auth/login", login, methods=["POST"]),
        Route("/books", list_books, methods=["GET"]),
        Route("/books", create_book, methods=["POST"]),
        Route("/books/{book_id:int}", read_book, methods=["GET"]),
        Route("/books/{book_id:int}", update_book, methods=["PATCH"]),
    ]


def create_app() -> Starlette:
    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        exception_handlers={HttpError: http_error},  # type: ignore[dict-item]
    )
    _configure(app)
    return app


def create_floor_app() -> Starlette:
    # Imported here: the baseline's own start and memory must not include FastAPI's.
    from fastapi import FastAPI

    app = FastAPI(lifespan=lifespan, openapi_url=None)
    app.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]
    for route in routes():
        app.add_api_route(route.path, route.endpoint, methods=list(route.methods or ()))
    _configure(app)
    return app


def _configure(app: Starlette) -> None:
    app.state.secret = os.environ["SECRET_KEY"].encode()
    app.state.dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    # The rendered app's settings: OWASP's argon2id minimum, two hashes at a time.
    app.state.hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
    app.state.dummy_hash = app.state.hasher.hash("fireup-dummy-password")
    app.state.limiter = anyio.CapacityLimiter(2)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # As many connections as SQLAlchemy's default pool may hold (5 plus 10 overflow); asyncpg's
    # pool keeps them open, where SQLAlchemy closes overflow connections as they come back.
    app.state.pool = await asyncpg.create_pool(app.state.dsn, min_size=5, max_size=15)
    yield
    await app.state.pool.close()


async def http_error(request: Request, error: HttpError) -> JSONResponse:
    return JSONResponse({"detail": error.detail}, status_code=error.status)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def login(request: Request) -> JSONResponse:
    form = parse_qs((await request.body()).decode())
    email = form.get("username", [""])[0].lower()
    password = form.get("password", [""])[0]
    state = request.app.state
    async with state.pool.acquire() as connection, connection.transaction():
        user = await connection.fetchrow(
            f"SELECT {USER_COLUMNS} FROM users WHERE email = $1", email
        )
        if not await _verify(request, password, user["password_hash"] if user else None):
            raise HttpError(401, "Incorrect email or password")
        if not user["is_active"]:
            raise HttpError(403, "User is inactive")
        now = dt.datetime.now(dt.UTC)
        access, _ = _token(state.secret, user["id"], "access", now, dt.timedelta(ACCESS_MINUTES))
        refresh_expiry = dt.timedelta(days=REFRESH_DAYS)
        refresh, jti = _token(state.secret, user["id"], "refresh", now, refresh_expiry)
        await connection.execute(
            "INSERT INTO refresh_tokens (jti, user_id, expires_at, revoked) "
            "VALUES ($1, $2, $3, $4)",
            jti,
            user["id"],
            now + refresh_expiry,
            False,
        )
    return JSONResponse(
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": ACCESS_MINUTES * 60,
        }
    )


async def _verify(request: Request, password: str, password_hash: str | None) -> bool:
    state = request.app.state

    def verify() -> bool:
        try:
            return bool(state.hasher.verify(password_hash or state.dummy_hash, password))
        except argon2.exceptions.VerificationError:
            return False

    matches = await anyio.to_thread.run_sync(verify, limiter=state.limiter)
    return matches and password_hash is not None


async def list_books(request: Request) -> JSONResponse:
    limit = _int_param(request, "limit", 50, 1, 100)
    offset = _int_param(request, "offset", 0, 0, 2**62)
    async with _authenticated(request) as (connection, user):
        owner, clause = _visible(user)
        total = await connection.fetchval(
            f"SELECT count(*) FROM (SELECT {BOOK_COLUMNS} FROM books {clause}) AS anon", *owner
        )
        rows = await connection.fetch(
            f"SELECT {BOOK_COLUMNS} FROM books {clause} ORDER BY id LIMIT ${len(owner) + 1} "
            f"OFFSET ${len(owner) + 2}",
            *owner,
            limit,
            offset,
        )
    items = [_book_json(row) for row in rows]
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


async def read_book(request: Request) -> JSONResponse:
    async with _authenticated(request) as (connection, user):
        book = await _book(connection, user, request.path_params["book_id"])
    return JSONResponse(_book_json(book))


async def create_book(request: Request) -> JSONResponse:
    values = _writable(await request.json(), partial=False)
    now = dt.datetime.now(dt.UTC)
    async with _authenticated(request) as (connection, user):
        columns = [*values, "owner_id", "created_at", "updated_at"]
        placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
        book = await connection.fetchrow(
            f"INSERT INTO books ({', '.join(columns)}) VALUES ({placeholders}) "
            f"RETURNING {BOOK_COLUMNS}",
            *values.values(),
            user["id"],
            now,
            now,
        )
        await connection.execute(RECORD_WRITE, "create", book["id"], book["owner_id"], now)
    return JSONResponse(_book_json(book), status_code=201)


async def update_book(request: Request) -> JSONResponse:
    values = _writable(await request.json(), partial=True)
    values["updated_at"] = dt.datetime.now(dt.UTC)
    async with _authenticated(request) as (connection, user):
        book = dict(await _book(connection, user, request.path_params["book_id"]))
        assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(values, 1))
        await connection.execute(
            f"UPDATE books SET {assignments} WHERE id = ${len(values) + 1}",
            *values.values(),
            book["id"],
        )
        now = values["updated_at"]
        await connection.execute(RECORD_WRITE, "update", book["id"], book["owner_id"], now)
    return JSONResponse(_book_json({**book, **values}))


@asynccontextmanager
async def _authenticated(
    request: Request,
) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Record]]:
    """A connection in a transaction, and the active user of the request's access token."""
    user_id = _user_id(request)
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        user = await connection.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        if user is None:
            raise HttpError(401, "Invalid or expired access token")
        if not user["is_active"]:
            raise HttpError(403, "User is inactive")
        yield connection, user


async def _book(connection: asyncpg.Connection, user: asyncpg.Record, book_id: int) -> Any:
    owner, clause = _visible(user)
    book = await connection.fetchrow(
        f"SELECT {BOOK_COLUMNS} FROM books {clause} {'AND' if owner else 'WHERE'} "
        f"id = ${len(owner) + 1}",
        *owner,
        book_id,
    )
    if book is None:
        raise HttpError(404, "Book not found")
    return book


def _visible(user: asyncpg.Record) -> tuple[list[int], str]:
    if user["is_superuser"]:
        return [], ""
    return [user["id"]], "WHERE owner_id = $1"


def _writable(body: Any, *, partial: bool) -> dict[str, Any]:
    """The request's writable fields, converted for asyncpg; a minimal check, not pydantic's."""
    if not isinstance(body, dict) or set(body) - set(WRITABLE):
        raise HttpError(422, "Unknown or malformed fields")
    if not partial and not {"title", "author", "in_stock"} <= set(body):
        raise HttpError(422, "title, author and in_stock are required")
    values = dict(body)
    if values.get("published_on") is not None:
        values["published_on"] = dt.date.fromisoformat(values["published_on"])
    if values.get("price") is not None:
        values["price"] = Decimal(str(values["price"]))
    return values


def _book_json(book: Any) -> dict[str, Any]:
    published_on, price = book["published_on"], book["price"]
    return {
        "id": book["id"],
        "owner_id": book["owner_id"],
        "title": book["title"],
        "author": book["author"],
        "summary": book["summary"],
        "published_on": published_on.isoformat() if published_on else None,
        "price": str(price) if price is not None else None,
        "in_stock": book["in_stock"],
        "created_at": _utc_json(book["created_at"]),
        "updated_at": _utc_json(book["updated_at"]),
    }


def _utc_json(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError as error:
        raise HttpError(422, f"{name} must be an integer") from error
    if not low <= value <= high:
        raise HttpError(422, f"{name} must be between {low} and {high}")
    return value


def _token(
    secret: bytes, user_id: int, kind: str, now: dt.datetime, lifetime: dt.timedelta
) -> tuple[str, str]:
    jti = uuid.uuid4().hex
    claims = {
        "sub": str(user_id),
        "type": kind,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = JWT_HEADER + b"." + payload
    signature = _b64(hmac.digest(secret, signing_input, hashlib.sha256))
    return (signing_input + b"." + signature).decode(), jti


def _user_id(request: Request) -> int:
    """The user id of a valid, unexpired HS256 access token in the Authorization header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        signing_input, _, signature = token.encode().rpartition(b".")
        expected = _b64(hmac.digest(request.app.state.secret, signing_input, hashlib.sha256))
        if scheme.lower() != "bearer" or not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature")
        claims = json.loads(_unb64(signing_input.split(b".")[1]))
        if claims["type"] != "access" or claims["exp"] < dt.datetime.now(dt.UTC).timestamp():
            raise ValueError("expired or not an access token")
        return int(claims["sub"])
    except (ValueError, KeyError, IndexError) as error:
        raise HttpError(401, "Invalid or expired access token") from error


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
