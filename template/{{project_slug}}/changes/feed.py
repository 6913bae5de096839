"""The live feed: each process reads the committed events (changes/events.py) and hands each
to the sockets that may see it (changes/routes.py).

PostgreSQL wakes every process of every instance at each commit (NOTIFY, heard on a connection
of the feed's own). SQLite has no such thing: the feed looks for new events as soon as its own
process commits some, and every CHANGES_SQLITE_POLL_SECONDS for those that other processes
write to the same file. Events older than CHANGES_RETENTION_MINUTES are deleted here, the newest
always kept.
"""

import asyncio
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.requests import HTTPConnection
from sqlalchemy import Row, Select, delete, func, select
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.event import listen
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from ..auth.principal import Principal
from ..config import Settings
from ..database import Database, utc_now
from .events import NOTIFY_CHANNEL, RECORDED
from .model import ChangeEvent
from .resources import FEED_RESOURCES

logger = logging.getLogger(__name__)

# Events read at once, and the most a reconnecting client is sent per query.
BATCH_SIZE = 500
# On PostgreSQL, only for what a lost listening connection missed until it reconnected.
POSTGRES_POLL_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 60.0
RETRY_SECONDS = 5.0

Event = Row[int, str, str, int, int]


class TooManySocketsError(Exception):
    """The user holds as many sockets on this process as CHANGES_SOCKETS_PER_USER allows."""


@dataclass(eq=False)
class Subscriber:
    """One socket's subscription: what it may see, and its events not yet sent.

    `None` in the queue means the socket was dropped for falling behind.
    """

    principal: Principal
    resources: frozenset[str]
    queue: asyncio.Queue[str | None]

    def sees(self, event: Event) -> bool:
        mine = self.principal.is_superuser or event.owner_id == self.principal.id
        return mine and event.resource in self.resources


class ChangeFeed:
    """The events of this process's subscribers, read once for all of them."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._postgres = database.engine.dialect.name == "postgresql"
        self._subscribers: set[Subscriber] = set()
        self._sockets: Counter[int] = Counter()
        # The cursor of the last event handed out: current only while someone subscribes.
        self._position = 0
        # Held while events are handed out, so that a new subscriber starts between two events.
        self._turn = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # A connection of its own, outside the pool, for as long as the feed runs.
        self._listening_engine: AsyncEngine | None = None
        if self._postgres:
            self._listening_engine = create_async_engine(database.engine.url, poolclass=NullPool)
        self._listener: AsyncConnection | None = None
        self._driver: Any = None
        if not self._postgres:
            listen(database.engine.sync_engine.pool, "checkin", self._checked_in)

    def _checked_in(self, _: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        """Wake the feed when a connection that recorded events comes back to the pool, its
        transaction over (had it rolled back, the feed reads nothing new)."""
        recorded = record.info.pop(RECORDED, False)
        # On the event loop's thread. A feed never closed outlives its loop: the pool must still
        # take the connection back.
        if recorded and self._task is not None and not self._task.get_loop().is_closed():
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="change feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_listening()
        if self._listening_engine is not None:
            await self._listening_engine.dispose()

    @asynccontextmanager
    async def subscribe(
        self, principal: Principal, resources: frozenset[str]
    ) -> AsyncIterator[tuple[Subscriber, int]]:
        """A subscriber of the events after the cursor yielded beside it, until the block ends."""
        self.start()
        queue: asyncio.Queue[str | None] = asyncio.Queue(self._settings.changes_queue_size)
        subscriber = Subscriber(principal, resources, queue)
        async with self._turn:
            if self._sockets[principal.id] >= self._settings.changes_sockets_per_user:
                raise TooManySocketsError
            if not self._subscribers:
                self._position = await self._newest()
            self._subscribers.add(subscriber)
            self._sockets[principal.id] += 1
            position = self._position
        # The loop may be idle, with nobody to hand events to until now.
        self._wake.set()
        try:
            yield subscriber, position
        finally:
            self._subscribers.discard(subscriber)
            self._sockets[principal.id] -= 1
            if not self._sockets[principal.id]:
                del self._sockets[principal.id]

    async def keeps(self, cursor: int, position: int) -> bool:
        """Whether every event after `cursor`, up to `position`, is still kept."""
        if cursor >= position:
            return cursor == position
        async with self._database.read_sessionmaker() as session:
            oldest = await session.scalar(select(func.min(ChangeEvent.id)))
        return oldest is not None and cursor >= oldest - 1

    async def replay(
        self, subscriber: Subscriber, cursor: int, position: int
    ) -> AsyncIterator[str]:
        """The messages of the events after `cursor`, up to `position`, that `subscriber` sees."""
        query = _events().where(
            ChangeEvent.id <= position, ChangeEvent.resource.in_(subscriber.resources)
        )
        if not subscriber.principal.is_superuser:
            query = query.where(ChangeEvent.owner_id == subscriber.principal.id)
        while True:
            async with self._database.read_sessionmaker() as session:
                events = (await session.execute(query.where(ChangeEvent.id > cursor))).all()
                messages = await _messages(session, events)
            for _, message in messages:
                yield message
            if len(events) < BATCH_SIZE:
                return
            cursor = events[-1].id

    async def _run(self) -> None:
        pruned_at = -PRUNE_EVERY_SECONDS
        while True:
            try:
                if self._postgres and not self._listening():
                    await self._stop_listening()
                    await self._listen()
                if self._subscribers:
                    await self._hand_out()
                if time.monotonic() - pruned_at >= PRUNE_EVERY_SECONDS:
                    await self._prune()
                    pruned_at = time.monotonic()
            except (SQLAlchemyError, OSError) as error:
                _stop_if_cancelled()
                # The feed outlives a database that is away or a schema not yet migrated.
                logger.warning("The change feed cannot read the events, retrying: %s", error)
                await self._retry_later()
            except Exception:
                _stop_if_cancelled()
                logger.exception("The change feed failed, retrying")
                await self._retry_later()
            await self._wait()

    async def _retry_later(self) -> None:
        await self._stop_listening()
        await asyncio.sleep(RETRY_SECONDS)

    async def _wait(self) -> None:
        """Until a notification, a new subscriber or the next look for events."""
        if not self._subscribers:
            seconds = PRUNE_EVERY_SECONDS
        elif self._postgres:
            seconds = POSTGRES_POLL_SECONDS
        else:
            seconds = self._settings.changes_sqlite_poll_seconds
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _hand_out(self) -> None:
        async with self._turn:
            while self._subscribers:
                async with self._database.read_sessionmaker() as session:
                    query = _events().where(ChangeEvent.id > self._position)
                    events = (await session.execute(query)).all()
                    messages = await _messages(session, events)
                for event, message in messages:
                    for subscriber in list(self._subscribers):
                        if subscriber.sees(event):
                            self._offer(subscriber, message)
                if events:
                    self._position = events[-1].id
                if len(events) < BATCH_SIZE:
                    return

    def _offer(self, subscriber: Subscriber, message: str) -> None:
        try:
            subscriber.queue.put_nowait(message)
        except asyncio.QueueFull:
            # Dropped rather than let a client that stopped reading fill the server's memory.
            self._subscribers.discard(subscriber)
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(None)

    async def _newest(self) -> int:
        async with self._database.read_sessionmaker() as session:
            return await session.scalar(select(func.max(ChangeEvent.id))) or 0

    async def _prune(self) -> None:
        cutoff = utc_now() - timedelta(minutes=self._settings.changes_retention_minutes)
        newest = select(func.max(ChangeEvent.id)).scalar_subquery()
        old = delete(ChangeEvent).where(ChangeEvent.created_at < cutoff, ChangeEvent.id < newest)
        async with self._database.sessionmaker() as session:
            await session.execute(old)
            await session.commit()

    async def _listen(self) -> None:
        assert self._listening_engine is not None
        self._listener = await self._listening_engine.connect()
        # asyncpg's connection: SQLAlchemy has no API for LISTEN.
        self._driver = (await self._listener.get_raw_connection()).driver_connection
        await self._driver.add_listener(NOTIFY_CHANNEL, self._on_notification)
        # Lost: the loop reconnects at once.
        self._driver.add_termination_listener(self._on_notification)
        # What was committed while no connection listened.
        self._wake.set()

    def _on_notification(self, *_: object) -> None:
        self._wake.set()

    def _listening(self) -> bool:
        return self._listener is not None and not self._driver.is_closed()

    async def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(Exception):
                await listener.close()


def _stop_if_cancelled() -> None:
    """End the loop if close() cancelled it: a cancel that lands mid-query reaches the loop as
    the driver's error (SQLAlchemy wraps it), which must not be retried like an outage."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _events() -> Select[int, str, str, int, int]:
    columns = (
        ChangeEvent.id,
        ChangeEvent.resource,
        ChangeEvent.operation,
        ChangeEvent.row_id,
        ChangeEvent.owner_id,
    )
    return select(*columns).order_by(ChangeEvent.id).limit(BATCH_SIZE)


async def _messages(session: AsyncSession, events: Sequence[Event]) -> list[tuple[Event, str]]:
    """Each event as the JSON message a client receives, with its row read once for all.

    A row gone since its create or update is left out: its delete follows. So is a row whose
    owner is not the event's: on SQLite a deleted row's id goes to the next row made.
    """
    wanted: defaultdict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.operation != "delete" and event.resource in FEED_RESOURCES:
            wanted[event.resource].add(event.row_id)
    rows = {
        resource: await FEED_RESOURCES[resource].rows(session, ids)
        for resource, ids in wanted.items()
    }
    messages = []
    for event in events:
        if event.resource not in FEED_RESOURCES:
            continue
        message: dict[str, Any] = {
            "type": "change",
            "cursor": event.id,
            "resource": event.resource,
            "operation": event.operation,
        }
        if event.operation == "delete":
            message["id"] = event.row_id
        else:
            row = rows[event.resource].get(event.row_id)
            if row is None or row["owner_id"] != event.owner_id:
                continue
            message["row"] = row
        messages.append((event, json.dumps(message, separators=(",", ":"))))
    return messages


async def get_change_feed(connection: HTTPConnection) -> ChangeFeed:
    feed: ChangeFeed = connection.app.state.change_feed
    return feed
