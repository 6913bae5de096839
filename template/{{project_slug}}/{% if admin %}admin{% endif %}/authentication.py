from fastapi import status
from sqladmin.authentication import AuthenticationBackend
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..auth.passwords import get_password_hasher
from ..auth.service import check_credentials
from ..auth.throttle import client_address, get_login_throttle
from ..auth.tokens import created_stamp
from ..config import Settings
from ..errors import NotAuthenticatedError
from ..users.model import User

SESSION_USER_ID = "user_id"
# With the id, tells the user from a later one given the same id (auth/tokens.py).
SESSION_USER_CREATED = "user_created"


class SuperuserAuthentication(AuthenticationBackend):
    """Lets active superusers into the admin panel with their API email and password.

    The session lives in a signed, HttpOnly cookie scoped to /admin. Every request reloads the
    user, so deactivating or demoting a superuser locks them out at once.
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        base_url: str,
    ) -> None:
        super().__init__(
            secret_key=settings.secret_key.get_secret_value(),
            session_cookie="admin_session",
            max_age=settings.admin_session_max_age_seconds,
            path=base_url,
            same_site="lax",
            https_only=settings.environment != "development",
        )
        self._sessionmaker = sessionmaker

    async def login(self, request: Request) -> bool:
        form = await request.form()
        email, password = form.get("username"), form.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            return False
        # The API's counts: failures here and at /auth/login add up. Too many answer 429.
        hasher = await get_password_hasher(request)
        throttle = await get_login_throttle(request)
        try:
            async with self._sessionmaker() as session:
                user = await check_credentials(
                    session, hasher, throttle, email, password, client_address(request)
                )
        except NotAuthenticatedError:
            return False
        # One answer for every refusal: it must not tell which part was wrong.
        if not _may_administer(user):
            return False
        request.session.clear()
        request.session[SESSION_USER_ID] = user.id
        request.session[SESSION_USER_CREATED] = created_stamp(user.created_at)
        return True

    async def logout(self, request: Request) -> RedirectResponse:
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=status.HTTP_302_FOUND)

    async def authenticate(self, request: Request) -> bool:
        user_id = await self.get_user_id(request)
        if user_id is None:
            return False
        async with self._sessionmaker() as session:
            user = await session.get(User, user_id)
        if user is None:
            return False
        same_user = request.session.get(SESSION_USER_CREATED) == created_stamp(user.created_at)
        return same_user and _may_administer(user)

    async def get_user_id(self, request: Request) -> int | None:
        """The logged-in user's id; views read it with sqladmin's `get_current_user_id`."""
        user_id = request.session.get(SESSION_USER_ID)
        return user_id if isinstance(user_id, int) else None


def _may_administer(user: User) -> bool:
    return user.is_active and user.is_superuser
