"""`/changes`: a WebSocket that sends every create, update and delete of the rows its user may
see, as they are committed. The protocol is in the README ("Live changes").
"""

import asyncio
import time
from collections.abc import Coroutine
from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.exc import OperationalError

from ..auth.dependencies import acting_as
from ..auth.model import RefreshToken
from ..auth.principal import Principal, UserState
from ..auth.tokens import InvalidTokenError, TokenClaims, decode_token
from ..config import SettingsDep
from ..database import Database, DatabaseDep, utc_now
from ..errors import NotAuthenticatedError, PermissionDeniedError
from ..users.model import User
from .feed import ChangeFeed, Subscriber, TooManySocketsError, get_change_feed
from .resources import FEED_RESOURCES
from .schemas import CloseCode, Subscription

SUBSCRIBE_TIMEOUT_SECONDS = 10.0
# A token and every resource's name, with room to spare.
MAX_SUBSCRIPTION_CHARACTERS = 16_384
# RFC 6455 caps a close reason at 123 bytes.
MAX_REASON_BYTES = 123
USER_GONE = "The user no longer exists"

router = APIRouter()
ChangeFeedDep = Annotated[ChangeFeed, Depends(get_change_feed)]


class SocketClosingError(Exception):
    """The server ends the socket with this code and reason."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@router.websocket("/changes")
async def changes(
    websocket: WebSocket,
    feed: ChangeFeedDep,
    settings: SettingsDep,
    database: DatabaseDep,
) -> None:
    await websocket.accept()
    try:
        subscription = await _receive_subscription(websocket)
        try:
            claims = decode_token(settings, subscription.access_token, "access")
        except InvalidTokenError:
            reason = "Invalid or expired access token"
            raise SocketClosingError(CloseCode.NOT_AUTHENTICATED, reason) from None
        principal = await _check_user(database, claims)
        resources = frozenset(subscription.resources or FEED_RESOURCES)
        async with feed.subscribe(principal, resources) as (subscriber, position):
            await _catch_up(websocket, feed, subscriber, subscription.cursor, position)
            await _first_to_end(
                _forward(websocket, subscriber),
                _until_the_client_leaves(websocket),
                _until(claims.expires_at.timestamp()),
                _recheck(database, claims, principal, settings.changes_recheck_seconds),
            )
    except SocketClosingError as closing:
        await _close(websocket, closing.code, closing.reason)
    except TooManySocketsError:
        reason = f"At most {settings.changes_sockets_per_user} sockets per user"
        await _close(websocket, CloseCode.TOO_MANY_SOCKETS, reason)
    except OperationalError:
        reason = "The database is unavailable; try again shortly"
        await _close(websocket, CloseCode.TRY_AGAIN_LATER, reason)
    except (WebSocketDisconnect, OSError):
        # The client left: uvicorn's ClientDisconnected is an OSError.
        pass


async def _close(websocket: WebSocket, code: CloseCode, reason: str) -> None:
    reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
    # The client may have left meanwhile.
    with suppress(RuntimeError, WebSocketDisconnect, OSError):
        await websocket.close(code, reason)


async def _receive_subscription(websocket: WebSocket) -> Subscription:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), SUBSCRIBE_TIMEOUT_SECONDS)
    except TimeoutError:
        reason = f"No subscription within {SUBSCRIBE_TIMEOUT_SECONDS:g} seconds"
        raise SocketClosingError(CloseCode.SUBSCRIPTION_TIMEOUT, reason) from None
    except KeyError:
        # A binary frame: Starlette finds no "text" in it.
        reason = "Send the subscription as text"
        raise SocketClosingError(CloseCode.BAD_SUBSCRIPTION, reason) from None
    if len(text) > MAX_SUBSCRIPTION_CHARACTERS:
        reason = f"A subscription takes at most {MAX_SUBSCRIPTION_CHARACTERS} characters"
        raise SocketClosingError(CloseCode.BAD_SUBSCRIPTION, reason)
    try:
        return Subscription.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"])) or "message"
        raise SocketClosingError(CloseCode.BAD_SUBSCRIPTION, f"{where}: {first['msg']}") from None


async def _check_user(database: Database, claims: TokenClaims) -> Principal:
    """The user the access token names as they are now, refused unless active and logged in.

    One statement reads the user and their sessions, past the kept user states: a deactivation
    ends every session in the same commit, and must be told as a deactivation.
    """
    logged_in = exists().where(
        RefreshToken.user_id == claims.user_id,
        RefreshToken.revoked.is_(False),
        RefreshToken.expires_at > utc_now(),
    )
    query = select(User.is_active, User.is_superuser, User.created_at, logged_in.label("logged_in"))
    async with database.read_sessionmaker() as session:
        row = (await session.execute(query.where(User.id == claims.user_id))).one_or_none()
    if row is None:
        raise SocketClosingError(CloseCode.FORBIDDEN, USER_GONE)
    try:
        principal = acting_as(claims, UserState(row.is_active, row.is_superuser, row.created_at))
    except NotAuthenticatedError:
        # Another user now has the id.
        raise SocketClosingError(CloseCode.FORBIDDEN, USER_GONE) from None
    except PermissionDeniedError as error:
        raise SocketClosingError(CloseCode.FORBIDDEN, str(error)) from None
    if not row.logged_in:
        reason = "Every session of the user was logged out"
        raise SocketClosingError(CloseCode.FORBIDDEN, reason)
    return principal


async def _catch_up(
    websocket: WebSocket,
    feed: ChangeFeed,
    subscriber: Subscriber,
    cursor: int | None,
    position: int,
) -> None:
    """Send what the client missed after `cursor`, then say that live events follow."""
    if cursor is not None and not await feed.keeps(cursor, position):
        # Older than the retention, or not a cursor of this database.
        await websocket.send_json({"type": "reload", "cursor": position})
        return
    if cursor is not None:
        async for message in feed.replay(subscriber, cursor, position):
            await websocket.send_text(message)
    await websocket.send_json({"type": "ready", "cursor": position})


async def _first_to_end(*watches: Coroutine[Any, Any, None]) -> None:
    """Run the watches until one ends, then stop the others; re-raise what ended it."""
    tasks = [asyncio.create_task(watch) for watch in watches]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


async def _forward(websocket: WebSocket, subscriber: Subscriber) -> None:
    while (message := await subscriber.queue.get()) is not None:
        await websocket.send_text(message)
    reason = "Too slow to keep up; reconnect with your last cursor"
    raise SocketClosingError(CloseCode.FELL_BEHIND, reason)


async def _until_the_client_leaves(websocket: WebSocket) -> None:
    """Read what the client sends, which the feed ignores, until it closes the socket."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _until(expires_at: float) -> None:
    await asyncio.sleep(expires_at - time.time())
    raise SocketClosingError(CloseCode.NOT_AUTHENTICATED, "The access token expired; reconnect")


async def _recheck(
    database: Database, claims: TokenClaims, principal: Principal, seconds: float
) -> None:
    while True:
        await asyncio.sleep(seconds)
        if await _check_user(database, claims) != principal:
            reason = "The user's permissions changed; reconnect"
            raise SocketClosingError(CloseCode.FORBIDDEN, reason)
