from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from ..config import SettingsDep
from ..database import SessionDep
from ..errors import NotAuthenticatedError, PermissionDeniedError
from ..users.model import User
from .tokens import InvalidTokenError, decode_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", refreshUrl="/auth/refresh")


async def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)], session: SessionDep, settings: SettingsDep
) -> User:
    try:
        claims = decode_token(settings, token, "access")
    except InvalidTokenError:
        claims = None
    user = await session.get(User, claims.user_id) if claims else None
    if user is None:
        raise NotAuthenticatedError("Invalid or expired access token")
    if not user.is_active:
        raise PermissionDeniedError("User is inactive")
    return user


async def get_current_superuser(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_superuser:
        raise PermissionDeniedError("Superuser privileges required")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentSuperuser = Annotated[User, Depends(get_current_superuser)]
