from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..errors import NotAuthenticatedError, PermissionDeniedError
from ..users.model import User
from ..users.service import authenticate
from .model import RefreshToken
from .passwords import PasswordHasher
from .revocation import revoke_all_refresh_tokens
from .schemas import LoginForm, TokenPair
from .throttle import LoginThrottle
from .tokens import InvalidTokenError, TokenClaims, decode_token, issue_token


async def check_credentials(
    session: AsyncSession,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    email: str,
    password: str,
    address: str,
) -> User:
    """The user with this email and password, whether active or not, for the API's login and
    the admin panel's alike: their failures count towards the same limits.

    Raises TooManyAttemptsError while a limit of failures is reached, NotAuthenticatedError for
    a wrong email or password.
    """
    await throttle.check(email, address)
    user = await authenticate(session, hasher, email, password)
    if user is None:
        await throttle.failed(email, address)
        raise NotAuthenticatedError("Incorrect email or password")
    return user


async def log_in(
    session: AsyncSession,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    settings: Settings,
    form: LoginForm,
    address: str,
) -> TokenPair:
    """An access and a refresh token for the active user whose email and password these are."""
    user = await check_credentials(session, hasher, throttle, form.username, form.password, address)
    if not user.is_active:
        raise PermissionDeniedError("User is inactive")
    return await issue_token_pair(session, settings, user)


async def issue_token_pair(session: AsyncSession, settings: Settings, user: User) -> TokenPair:
    access = issue_token(settings, user.id, "access")
    refresh = issue_token(settings, user.id, "refresh")
    session.add(RefreshToken(jti=refresh.jti, user_id=user.id, expires_at=refresh.expires_at))
    await session.commit()
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=settings.access_token_expire_minutes * 60,
    )


async def rotate_refresh_token(session: AsyncSession, settings: Settings, token: str) -> TokenPair:
    """Trade a refresh token for a new pair; the old one is revoked and cannot be used again."""
    claims = _refresh_claims(settings, token)
    # One conditional UPDATE: of concurrent requests with the same token only one sees the row
    # unrevoked (PostgreSQL re-checks the condition after the winner's lock; SQLite writes one
    # at a time), so a token is exchanged at most once.
    user_id = await session.scalar(
        update(RefreshToken)
        .where(
            RefreshToken.jti == claims.jti,
            RefreshToken.user_id == claims.user_id,
            RefreshToken.revoked.is_(False),
        )
        .values(revoked=True)
        .returning(RefreshToken.user_id)
    )
    if user_id is None:
        stored = await session.get(RefreshToken, claims.jti)
        if stored is not None and stored.user_id == claims.user_id:
            # A revoked token coming back means it leaked: end every session of its user.
            await revoke_all_refresh_tokens(session, stored.user_id)
            await session.commit()
        raise _invalid_refresh_token()
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise _invalid_refresh_token()
    return await issue_token_pair(session, settings, user)


async def revoke_refresh_token(session: AsyncSession, settings: Settings, token: str) -> None:
    stored = await _stored_refresh_token(session, settings, token)
    stored.revoked = True
    await session.commit()


def _refresh_claims(settings: Settings, token: str) -> TokenClaims:
    try:
        return decode_token(settings, token, "refresh")
    except InvalidTokenError as error:
        raise _invalid_refresh_token() from error


async def _stored_refresh_token(
    session: AsyncSession, settings: Settings, token: str
) -> RefreshToken:
    claims = _refresh_claims(settings, token)
    stored = await session.get(RefreshToken, claims.jti)
    if stored is None or stored.user_id != claims.user_id:
        raise _invalid_refresh_token()
    return stored


def _invalid_refresh_token() -> NotAuthenticatedError:
    return NotAuthenticatedError("Invalid or expired refresh token")
