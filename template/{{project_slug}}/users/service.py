from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.passwords import PasswordHasher
from ..auth.principal import UserStates
from ..auth.revocation import revoke_all_refresh_tokens
from ..config import Settings
from ..database import is_foreign_key_violation, unique_violation_columns, utc_now
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..pagination import PageQuery, Paginated, paginate
from .model import User
from .schemas import PasswordChange, UserCreate, UserListParams, UserSelfUpdate, UserUpdate


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    if "\x00" in email:
        # No stored email holds a NUL, and PostgreSQL refuses to even compare one.
        return None
    return await session.scalar(select(User).where(User.email == email.lower()))


async def list_users(session: AsyncSession, params: UserListParams) -> Paginated[User]:
    query = select(User).order_by(User.id)
    if params.email:
        query = query.where(User.email.contains(params.email.lower(), autoescape=True))
    return await paginate(session, PageQuery.of(query), params, session.scalars)


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("User not found")
    return user


async def authenticate(
    session: AsyncSession, hasher: PasswordHasher, email: str, password: str
) -> User | None:
    user = await get_user_by_email(session, email)
    # End the transaction before the slow hash check, so a login storm does not hold every
    # pooled connection (on SQLite, its only one) while hashes are computed.
    await session.commit()
    valid, new_hash = await hasher.verify(password, user.password_hash if user else None)
    if user is None or not valid:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
        await session.commit()
    return user


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    data: UserCreate,
    *,
    verification_pending: bool = False,
) -> User:
    user = User(
        email=data.email.lower(),
        full_name=data.full_name,
        password_hash=await hasher.hash(data.password),
        is_active=data.is_active,
        is_superuser=data.is_superuser,
        verification_pending_since=utc_now() if verification_pending else None,
    )
    session.add(user)
    await _commit_or_conflict(session)
    return user


async def update_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    states: UserStates,
    user: User,
    data: UserSelfUpdate,
) -> User:
    """Change a user; deactivating them or setting their password revokes their refresh tokens."""
    changes = data.model_dump(exclude_unset=True, exclude={"password"})
    if isinstance(data, UserUpdate):
        await _refuse_removing_last_superuser(session, user, data)
        if data.is_active is False or data.password is not None:
            await revoke_all_refresh_tokens(session, user.id)
        if data.password is not None:
            user.password_hash = await hasher.hash(data.password)
    if data.email is not None:
        changes["email"] = data.email.lower()
    for name, value in changes.items():
        setattr(user, name, value)
    await _commit_or_conflict(session)
    states.forget(user.id)
    return user


async def change_password(
    session: AsyncSession, hasher: PasswordHasher, user: User, data: PasswordChange
) -> None:
    """Set the user's own password, given the current one; every refresh token is revoked."""
    valid, _ = await hasher.verify(data.current_password, user.password_hash)
    if not valid:
        raise InvalidInputError("Current password is incorrect")
    user.password_hash = await hasher.hash(data.new_password)
    await revoke_all_refresh_tokens(session, user.id)
    await session.commit()


async def delete_user(session: AsyncSession, states: UserStates, user: User) -> None:
    if await _is_last_active_superuser(session, user):
        raise ConflictError("The last active superuser cannot be deleted")
    await session.delete(user)
    try:
        await session.commit()
    except IntegrityError as error:
        # Their rows go with them, unless rows of other users refer to one of those.
        await session.rollback()
        if not is_foreign_key_violation(error):
            raise
        raise ConflictError(
            "Rows of other users refer to rows of this user; change those first"
        ) from error
    states.forget(user.id)


async def ensure_first_superuser(
    session: AsyncSession, hasher: PasswordHasher, settings: Settings
) -> User | None:
    """Create the configured first superuser unless that email already has an account."""
    if await get_user_by_email(session, settings.first_superuser_email) is not None:
        return None
    data = UserCreate(
        email=settings.first_superuser_email,
        password=settings.first_superuser_password.get_secret_value(),
        is_superuser=True,
    )
    try:
        return await create_user(session, hasher, data)
    except ConflictError:
        # Another worker created it between our check and our insert.
        return None


async def _refuse_removing_last_superuser(
    session: AsyncSession, user: User, data: UserUpdate
) -> None:
    demoted = data.is_superuser is False or data.is_active is False
    if demoted and await _is_last_active_superuser(session, user):
        raise ConflictError("The last active superuser cannot be deactivated or demoted")


async def _is_last_active_superuser(session: AsyncSession, user: User) -> bool:
    if not (user.is_active and user.is_superuser):
        return False
    active_superusers = await session.scalar(
        select(func.count()).select_from(User).where(User.is_active, User.is_superuser)
    )
    return active_superusers == 1


async def _commit_or_conflict(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        if unique_violation_columns(error) is None:
            raise
        raise ConflictError("A user with this email already exists") from error
