from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ..pagination import PageParams
from ..schemas import NotNull, Storable, StorableStr

Password = Annotated[str, Field(min_length=8, max_length=128), Storable]
FullName = Annotated[str, Field(max_length=200), Storable]
# At most 4 bytes a character: never over the 4096 bytes passlib accepts.
CurrentPassword = Annotated[str, Field(max_length=1024), Storable]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: EmailStr
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime


class UserRegister(BaseModel):
    email: EmailStr
    password: Password
    full_name: FullName | None = None


class UserCreate(UserRegister):
    is_active: bool = True
    is_superuser: bool = False


class UserSelfUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr | None, NotNull] = None
    full_name: FullName | None = None


class UserUpdate(UserSelfUpdate):
    password: Annotated[Password | None, NotNull] = None
    is_active: Annotated[bool | None, NotNull] = None
    is_superuser: Annotated[bool | None, NotNull] = None


class PasswordChange(BaseModel):
    current_password: CurrentPassword
    new_password: Password


class UserListParams(PageParams):
    email: StorableStr | None = Field(default=None, description="Part of the email, in any case")
