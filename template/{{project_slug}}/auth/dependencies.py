from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import SettingsDep
from ..database import SessionDep
from ..errors import NotAuthenticatedError, PermissionDeniedError
from ..users.model import User
from .principal import Principal, UserState, UserStates, UserStatesDep
from .tokens import InvalidTokenError, decode_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", refreshUrl="/auth/refresh")


async def get_principal(
    token: Annotated[str, Depends(oauth2_scheme)],
    session: SessionDep,
    settings: SettingsDep,
    states: UserStatesDep,
) -> Principal:
    try:
        user_id = decode_token(settings, token, "access").user_id
    except InvalidTokenError:
        raise NotAuthenticatedError("Invalid or expired access token") from None
    return await principal_of(session, states, user_id)


async def principal_of(session: AsyncSession, states: UserStates, user_id: int) -> Principal:
    """The user as a request acts for them: NotAuthenticatedError if gone, PermissionDeniedError
    if inactive. For HTTP routes and the live feed's sockets alike."""
    state = states.get(user_id) or await _load_state(session, states, user_id)
    return acting_as(user_id, state)


def acting_as(user_id: int, state: UserState | None) -> Principal:
    """The principal of a user in this state (None: the user is gone), or the error that
    refuses them."""
    if state is None:
        raise NotAuthenticatedError("Invalid or expired access token")
    if not state.is_active:
        raise PermissionDeniedError("User is inactive")
    return Principal(id=user_id, is_superuser=state.is_superuser)


async def _load_state(session: AsyncSession, states: UserStates, user_id: int) -> UserState | None:
    generation = states.generation
    query = select(User.is_active, User.is_superuser).where(User.id == user_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    state = UserState(is_active=row.is_active, is_superuser=row.is_superuser)
    states.keep(user_id, state, read_at_generation=generation)
    return state


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_current_user(principal: CurrentPrincipal, session: SessionDep) -> User:
    """The user a request acts for, loaded: for the routes on the user's own account."""
    user = await session.get(User, principal.id)
    if user is None:
        raise NotAuthenticatedError("Invalid or expired access token")
    if not user.is_active:
        raise PermissionDeniedError("User is inactive")
    return user


async def get_current_superuser(principal: CurrentPrincipal) -> Principal:
    if not principal.is_superuser:
        raise PermissionDeniedError("Superuser privileges required")
    return principal


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentSuperuser = Annotated[Principal, Depends(get_current_superuser)]
