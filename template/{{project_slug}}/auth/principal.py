import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from ..config import Settings


@dataclass(frozen=True)
class Principal:
    """The user a request acts for: the id its access token carries, and their state."""

    id: int
    is_superuser: bool


@dataclass(frozen=True)
class UserState:
    """What a request needs to know of its user besides the id its token carries."""

    is_active: bool
    is_superuser: bool
    # Tells the user from a later one given the same id (auth/tokens.py).
    created_at: datetime


class UserStates:
    """Each user's state, kept for `USER_STATE_CACHE_SECONDS` so that a request need not load
    its user from the database.

    A change made through this process (users/service.py) is forgotten at once; one made by
    another worker or instance is seen within those seconds. At most `max_users` are kept,
    the least recently stored dropped first.
    """

    def __init__(self, settings: Settings, *, max_users: int = 10_000) -> None:
        self._seconds = settings.user_state_cache_seconds
        self._max_users = max_users
        self._kept: dict[int, tuple[float, UserState]] = {}
        # Bumped by each change: a state read from the database before a change is not kept.
        self.generation = 0

    def get(self, user_id: int) -> UserState | None:
        kept = self._kept.get(user_id)
        if kept is None:
            return None
        expires_at, state = kept
        if time.monotonic() >= expires_at:
            del self._kept[user_id]
            return None
        return state

    def keep(self, user_id: int, state: UserState, *, read_at_generation: int) -> None:
        if self._seconds <= 0 or read_at_generation != self.generation:
            return
        self._kept.pop(user_id, None)
        self._kept[user_id] = (time.monotonic() + self._seconds, state)
        if len(self._kept) > self._max_users:
            del self._kept[next(iter(self._kept))]

    def forget(self, user_id: int) -> None:
        self.generation += 1
        self._kept.pop(user_id, None)


async def get_user_states(connection: HTTPConnection) -> UserStates:
    """The app's users' states. `get_principal` calls this rather than depending on it: replace
    `app.state.user_states`, not this dependency."""
    states: UserStates = connection.app.state.user_states
    return states


UserStatesDep = Annotated[UserStates, Depends(get_user_states)]
