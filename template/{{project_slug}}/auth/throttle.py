import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from ..config import Settings
from ..errors import TooManyAttemptsError


class LoginThrottle:
    """Counts failed logins and refuses more attempts (429) while a count is over its limit.

    Three counts, each over a moving window: per account from one address (a guesser at one
    account), per address (one address trying many accounts) and per account from everywhere
    (a guesser spread over many addresses; higher, since reaching it locks the owner out too).
    Failures from one address never lock the account's owner out elsewhere before the last.
    Requests for a password-recovery mail are counted too, per account and per address.
    """

    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(f"async+{settings.login_limits_storage_url}")
        if not isinstance(storage, Storage):
            raise TypeError(f"{settings.login_limits_storage_url} is not an async storage")
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_account_and_address = parse(settings.login_failures_per_account_and_address)
        self._per_address = parse(settings.login_failures_per_address)
        self._per_account = parse(settings.login_failures_per_account)
        self._recovery_per_account = parse(settings.password_recovery_per_account)
        self._recovery_per_address = parse(settings.password_recovery_per_address)

    async def check(self, email: str, address: str) -> None:
        """Raise TooManyAttemptsError, with the seconds to wait, when a count is exhausted."""
        for limit, key in self._counts(email, address):
            if not await self._limiter.test(limit, *key):
                wait = await self._seconds_to_wait(limit, key)
                raise TooManyAttemptsError(
                    f"Too many failed logins; try again in {wait} seconds", retry_after=wait
                )

    async def recovery_requested(self, email: str, address: str) -> None:
        """Count a password-recovery request; raise TooManyAttemptsError beyond its limits."""
        account = email.lower()
        for limit, key in (
            (self._recovery_per_account, ("recovery", "account", account)),
            (self._recovery_per_address, ("recovery", "address", address)),
        ):
            if not await self._limiter.hit(limit, *key):
                wait = await self._seconds_to_wait(limit, key)
                raise TooManyAttemptsError(
                    f"Too many password recoveries asked for; try again in {wait} seconds",
                    retry_after=wait,
                )

    async def failed(self, email: str, address: str) -> None:
        for limit, key in self._counts(email, address):
            await self._limiter.hit(limit, *key)

    async def _seconds_to_wait(self, limit: RateLimitItem, key: tuple[str, ...]) -> int:
        stats = await self._limiter.get_window_stats(limit, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _counts(self, email: str, address: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        account = email.lower()
        return [
            (self._per_account_and_address, ("login", "account-address", account, address)),
            (self._per_address, ("login", "address", address)),
            (self._per_account, ("login", "account", account)),
        ]


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers (on for trusted proxies) sets this from
    # X-Forwarded-For.
    return request.client.host if request.client else "unknown"


async def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]
