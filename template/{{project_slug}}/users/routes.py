from typing import Annotated

from fastapi import APIRouter, Query, status

from ..auth.dependencies import CurrentSuperuser, CurrentUser
from ..auth.passwords import PasswordHasherDep
from ..auth.principal import UserStatesDep
from ..database import SessionDep
from ..pagination import Page, Paginated
from ..responses import AUTHENTICATED, NOT_FOUND, SUPERUSER, Responses, refusal
from ..schemas import RowId
from . import service
from .model import User
from .schemas import (
    PasswordChange,
    UserCreate,
    UserListParams,
    UserRead,
    UserSelfUpdate,
    UserUpdate,
)

router = APIRouter(prefix="/users", tags=["users"], responses=AUTHENTICATED)
EMAIL_TAKEN: Responses = {409: refusal("A user with this email already exists")}
LAST_SUPERUSER: Responses = {409: refusal("The last active superuser cannot be removed")}


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserRead, responses=EMAIL_TAKEN)
async def update_me(
    body: UserSelfUpdate,
    user: CurrentUser,
    session: SessionDep,
    hasher: PasswordHasherDep,
    states: UserStatesDep,
) -> User:
    return await service.update_user(session, hasher, states, user, body)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: refusal("The current password is incorrect")},
)
async def change_password(
    body: PasswordChange, user: CurrentUser, session: SessionDep, hasher: PasswordHasherDep
) -> None:
    """Change your password; every refresh token you hold is revoked."""
    await service.change_password(session, hasher, user, body)


@router.get("", response_model=Page[UserRead], responses=SUPERUSER)
async def list_users(
    params: Annotated[UserListParams, Query()], _: CurrentSuperuser, session: SessionDep
) -> Paginated[User]:
    return await service.list_users(session, params)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={**SUPERUSER, **EMAIL_TAKEN},
)
async def create_user(
    body: UserCreate, _: CurrentSuperuser, session: SessionDep, hasher: PasswordHasherDep
) -> User:
    return await service.create_user(session, hasher, body)


@router.get("/{user_id}", response_model=UserRead, responses={**SUPERUSER, **NOT_FOUND})
async def read_user(user_id: RowId, _: CurrentSuperuser, session: SessionDep) -> User:
    return await service.get_user(session, user_id)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={
        **SUPERUSER,
        **NOT_FOUND,
        409: refusal("The email is taken, or this is the last active superuser"),
    },
)
async def update_user(
    user_id: RowId,
    body: UserUpdate,
    _: CurrentSuperuser,
    session: SessionDep,
    hasher: PasswordHasherDep,
    states: UserStatesDep,
) -> User:
    """Change a user; deactivating (`is_active: false`) also revokes their refresh tokens."""
    user = await service.get_user(session, user_id)
    return await service.update_user(session, hasher, states, user, body)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**SUPERUSER, **NOT_FOUND, **LAST_SUPERUSER},
)
async def delete_user(
    user_id: RowId, _: CurrentSuperuser, session: SessionDep, states: UserStatesDep
) -> None:
    await service.delete_user(session, states, await service.get_user(session, user_id))
