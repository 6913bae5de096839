from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from ..auth.dependencies import CurrentSuperuser, CurrentUser
from ..auth.passwords import PasswordHasherDep
from ..auth.service import revoke_all_refresh_tokens
from ..database import SessionDep
from ..pagination import Page, Paginated, paginate
from .model import User
from .schemas import (
    PasswordChange,
    UserCreate,
    UserListParams,
    UserRead,
    UserSelfUpdate,
    UserUpdate,
)
from .service import create_user, delete_user, get_user_or_404, update_user

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserRead)
async def update_me(
    body: UserSelfUpdate, user: CurrentUser, session: SessionDep, hasher: PasswordHasherDep
) -> User:
    return await update_user(session, hasher, user, body)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, user: CurrentUser, session: SessionDep, hasher: PasswordHasherDep
) -> None:
    """Change your password; every refresh token you hold is revoked."""
    valid, _ = await hasher.verify(body.current_password, user.password_hash)
    if not valid:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Current password is incorrect")
    user.password_hash = await hasher.hash(body.new_password)
    await revoke_all_refresh_tokens(session, user.id)
    await session.commit()


@router.get("", response_model=Page[UserRead])
async def list_users(
    params: Annotated[UserListParams, Query()], _: CurrentSuperuser, session: SessionDep
) -> Paginated[User]:
    query = select(User).order_by(User.id)
    if params.email:
        query = query.where(User.email.contains(params.email.lower(), autoescape=True))
    return await paginate(session, query, params)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserRead)
async def create(
    body: UserCreate, _: CurrentSuperuser, session: SessionDep, hasher: PasswordHasherDep
) -> User:
    return await create_user(session, hasher, body)


@router.get("/{user_id}", response_model=UserRead)
async def read(user_id: int, _: CurrentSuperuser, session: SessionDep) -> User:
    return await get_user_or_404(session, user_id)


@router.patch("/{user_id}", response_model=UserRead)
async def update(
    user_id: int,
    body: UserUpdate,
    _: CurrentSuperuser,
    session: SessionDep,
    hasher: PasswordHasherDep,
) -> User:
    """Change a user; deactivating (`is_active: false`) also revokes their refresh tokens."""
    user = await get_user_or_404(session, user_id)
    if body.is_active is False or body.password is not None:
        await revoke_all_refresh_tokens(session, user.id)
    return await update_user(session, hasher, user, body)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(user_id: int, _: CurrentSuperuser, session: SessionDep) -> None:
    await delete_user(session, await get_user_or_404(session, user_id))
