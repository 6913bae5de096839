from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import get_settings
from ..database import SessionDep
from ..errors import NotAuthenticatedError, PermissionDeniedError
from ..users.model import User
from .principal import Principal, UserState, UserStates, get_user_states
from .tokens import InvalidTokenError, TokenClaims, decode_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", refreshUrl="/auth/refresh")


async def get_principal(
    request: Request,
    token: Annotated[str, Depends(oauth2_scheme)],
    session: SessionDep,
) -> Principal:
    # Called, not declared as dependencies: FastAPI's solving of each dependency costs about 3%
    # of the CPU of a read by id, and every authenticated request runs this.
    settings = await get_settings(request)
    states = await get_user_states(request)
    try:
        claims = decode_token(settings, token, "access")
    except InvalidTokenError:
        raise NotAuthenticatedError("Invalid or expired access token") from None
    return await principal_of(session, states, claims)


async def principal_of(session: AsyncSession, states: UserStates, claims: TokenClaims) -> Principal:
    """The user as a request acts for them: NotAuthenticatedError if gone, PermissionDeniedError
    if inactive. For HTTP routes and the live feed's sockets alike."""
    state = states.get(claims.user_id)
    if state is None or not claims.is_for_user_created_at(state.created_at):
        # Not kept, or kept of an earlier user of the id, deleted through another worker.
        state = await _load_state(session, states, claims.user_id)
    return acting_as(claims, state)


def acting_as(claims: TokenClaims, state: UserState | None) -> Principal:
    """The principal of the user an access token names, in this state (None: no user has the
    token's id), or the error that refuses them."""
    if state is None or not claims.is_for_user_created_at(state.created_at):
        # Gone, or another user now has their id.
        raise NotAuthenticatedError("Invalid or expired access token")
    if not state.is_active:
        raise PermissionDeniedError("User is inactive")
    return Principal(id=claims.user_id, is_superuser=state.is_superuser)


async def _load_state(session: AsyncSession, states: UserStates, user_id: int) -> UserState | None:
    generation = states.generation
    query = select(User.is_active, User.is_superuser, User.created_at).where(User.id == user_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    state = UserState(
        is_active=row.is_active, is_superuser=row.is_superuser, created_at=row.created_at
    )
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
