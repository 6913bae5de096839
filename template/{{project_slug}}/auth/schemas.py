from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field

from ..schemas import Storable
from ..users.schemas import Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class LoginForm(BaseModel):
    """OAuth2's password grant as a form: the email goes in `username`.

    Other OAuth2 fields (`grant_type`, `scope`, ...) that clients send are ignored.
    """

    username: Annotated[str, Field(max_length=320), Storable]  # the users.email column's size
    password: str


class RefreshRequest(BaseModel):
    refresh_token: str


class PasswordRecovery(BaseModel):
    email: EmailStr


class PasswordReset(BaseModel):
    token: Annotated[str, Field(max_length=2048)]
    new_password: Password


class EmailVerification(BaseModel):
    token: Annotated[str, Field(max_length=2048)]


class Accepted(BaseModel):
    """What a request whose outcome is not told (such as password recovery) answers."""

    detail: str
