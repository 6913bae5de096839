import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Request

from ..config import Settings

if TYPE_CHECKING:
    from passlib.context import CryptContext

ResultT = TypeVar("ResultT")


class PasswordHasher:
    """argon2id hashing in threads of its own, so a login never blocks the event loop.

    A small dedicated pool caps concurrent hashes (each takes `argon2_memory_cost_kib`) and keeps
    their memory in a few threads, where it is reused, instead of in every thread of the loop's
    default pool. bcrypt hashes (from an older system) still verify and are replaced by argon2id
    on the next successful login.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=settings.password_hash_concurrency, thread_name_prefix="password-hash"
        )
        self._dummy_hash: str | None = None

    @cached_property
    def _context(self) -> "CryptContext":
        # Imported at the first hash, not at start: a worker that never checks a password
        # does without passlib and its backends.
        from passlib.context import CryptContext

        return CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated=["bcrypt"],
            argon2__type="ID",
            argon2__memory_cost=self._settings.argon2_memory_cost_kib,
            argon2__rounds=self._settings.argon2_time_cost,
            argon2__parallelism=self._settings.argon2_parallelism,
        )

    async def hash(self, password: str) -> str:
        return await self._run(self._context.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether the password matches, and a new hash to store when the old one is outdated.

        A password no hash could have been made from (over passlib's 4096 bytes, a NUL for
        bcrypt, or text that is not valid Unicode) is simply wrong.
        """
        from passlib.exc import PasswordValueError

        try:
            if password_hash is None:
                # Unknown emails are checked against a dummy hash: refusing them takes as long as
                # refusing a wrong password, so timing does not tell which emails have accounts.
                if self._dummy_hash is None:
                    self._dummy_hash = await self.hash("fireup-dummy-password")
                await self._run(self._context.verify, password, self._dummy_hash)
                return False, None
            return await self._run(self._context.verify_and_update, password, password_hash)
        except (PasswordValueError, UnicodeEncodeError):
            return False, None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, function: Callable[..., ResultT], *arguments: str) -> ResultT:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, function, *arguments
        )


async def get_password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.password_hasher
    return hasher


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
