import hashlib
import hmac
from collections.abc import Callable
from email.message import EmailMessage

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..errors import InvalidInputError, NotAuthenticatedError, PermissionDeniedError
from ..mail.sender import Mailer
from ..users.model import User
from ..users.schemas import UserCreate, UserRegister
from ..users.service import authenticate, create_user, get_user_by_email
from .model import RefreshToken
from .passwords import PasswordHasher
from .revocation import revoke_all_refresh_tokens
from .schemas import EmailVerification, LoginForm, PasswordReset, TokenPair
from .throttle import LoginThrottle
from .tokens import InvalidTokenError, TokenClaims, TokenType, decode_token, issue_token

# What the refusal of a mailed link's token calls it.
LINK_NAMES: dict[TokenType, str] = {"reset": "reset", "verify": "verification"}


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
    if user.verification_pending_since is not None:
        raise PermissionDeniedError("Email not verified: open the link mailed at registration")
    return await issue_token_pair(session, settings, user)


async def issue_token_pair(session: AsyncSession, settings: Settings, user: User) -> TokenPair:
    access = issue_token(settings, user, "access")
    refresh = issue_token(settings, user, "refresh")
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


async def password_reset_mail(
    session: AsyncSession, settings: Settings, mailer: Mailer, email: str
) -> EmailMessage | None:
    """The mail with a reset link for the active account of this email; None for any other
    email, which the caller must not tell apart."""
    user = await get_user_by_email(session, email)
    if user is None or not user.is_active:
        return None
    # Bound to the password hash it replaces: once used (or the password changes otherwise) it
    # no longer matches, so a reset link works at most once.
    return _link_mail(
        settings,
        mailer,
        user,
        _link_token(settings, user, "reset", bound_to=user.password_hash),
        settings.password_reset_url,
        "Reset your password",
        "password_reset",
        minutes=f"{settings.password_reset_expire_minutes:g}",
    )


async def use_reset_token(
    session: AsyncSession, hasher: PasswordHasher, settings: Settings, data: PasswordReset
) -> None:
    """Set the password of the reset token's user; every refresh token of theirs is revoked."""
    user = await _holder_of_link_token(
        session, settings, data.token, "reset", lambda user: user.password_hash
    )
    user.password_hash = await hasher.hash(data.new_password)
    await revoke_all_refresh_tokens(session, user.id)
    await session.commit()


async def register_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    mailer: Mailer,
    data: UserRegister,
) -> tuple[User, EmailMessage | None]:
    """An ordinary, active account; with REQUIRE_EMAIL_VERIFICATION it logs in only once the link
    of the mail returned here is opened."""
    pending = settings.require_email_verification
    user = await create_user(
        session, hasher, UserCreate(**data.model_dump()), verification_pending=pending
    )
    if user.verification_pending_since is None:
        return user, None
    # Bound to the moment the verification began: once it is done, the link no longer matches.
    pending_since = user.verification_pending_since.isoformat()
    mail = _link_mail(
        settings,
        mailer,
        user,
        _link_token(settings, user, "verify", bound_to=pending_since),
        settings.email_verification_url,
        "Confirm your email",
        "verify_email",
        hours=f"{settings.email_verification_expire_hours:g}",
    )
    return user, mail


async def confirm_email(session: AsyncSession, settings: Settings, data: EmailVerification) -> None:
    """End the pending verification of the token's user: they can log in from now on."""

    def pending_since(user: User) -> str | None:
        pending = user.verification_pending_since
        return pending.isoformat() if pending else None

    user = await _holder_of_link_token(session, settings, data.token, "verify", pending_since)
    user.verification_pending_since = None
    await session.commit()


def _link_mail(
    settings: Settings,
    mailer: Mailer,
    user: User,
    token: str,
    url: str,
    subject: str,
    template: str,
    **context: str,
) -> EmailMessage:
    """A mail to the user with a link to `url`, `{token}` replaced by the token."""
    link = url.format(token=token)
    return mailer.compose(
        user.email, subject, template, project_name=settings.project_name, link=link, **context
    )


def _link_token(settings: Settings, user: User, token_type: TokenType, *, bound_to: str) -> str:
    """The token of a mailed link: it works only while `bound_to` is what it was at issue."""
    return issue_token(settings, user, token_type, jti=_fingerprint(settings, bound_to)).token


async def _holder_of_link_token(
    session: AsyncSession,
    settings: Settings,
    token: str,
    token_type: TokenType,
    bound_to: Callable[[User], str | None],
) -> User:
    """The active user of a mailed link's token, if its binding still holds; else the refusal."""
    refusal = InvalidInputError(f"Invalid, expired or used {LINK_NAMES[token_type]} token")
    try:
        claims = decode_token(settings, token, token_type)
    except InvalidTokenError as error:
        raise refusal from error
    user = await session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise refusal
    value = bound_to(user)
    if value is None or not hmac.compare_digest(claims.jti, _fingerprint(settings, value)):
        raise refusal
    return user


def _fingerprint(settings: Settings, value: str) -> str:
    """A keyed digest of `value` for a token's id: the token matches only while `value` does."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
