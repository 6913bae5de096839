from typing import Literal

from pydantic import BaseModel

from ..schemas import Text


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class LoginForm(BaseModel):
    """OAuth2's password grant as a form: the email goes in `username`.

    Other OAuth2 fields (`grant_type`, `scope`, ...) that clients send are ignored.
    """

    username: Text
    password: str


class RefreshRequest(BaseModel):
    refresh_token: str
