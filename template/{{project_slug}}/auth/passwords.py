from typing import Annotated

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Depends, Request
from passlib.context import CryptContext

from ..config import Settings


class PasswordHasher:
    """argon2id hashing in worker threads, so a login never blocks the event loop.

    bcrypt hashes (from an older system) still verify and are replaced by argon2id on the next
    successful login.
    """

    def __init__(self, settings: Settings) -> None:
        self._context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated=["bcrypt"],
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_cost_kib,
            argon2__rounds=settings.argon2_time_cost,
            argon2__parallelism=settings.argon2_parallelism,
        )
        self._limiter = CapacityLimiter(settings.password_hash_concurrency)
        # Verified against for unknown emails, so they take as long to refuse as a wrong password.
        self._dummy_hash = self._context.hash("fireup-dummy-password")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._context.hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether the password matches, and a new hash to store when the old one is outdated."""
        if password_hash is None:
            await anyio.to_thread.run_sync(
                self._context.verify, password, self._dummy_hash, limiter=self._limiter
            )
            return False, None
        return await anyio.to_thread.run_sync(
            self._context.verify_and_update, password, password_hash, limiter=self._limiter
        )


def get_password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.password_hasher
    return hasher


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
