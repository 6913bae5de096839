import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from jose import JWTError, jwt

from ..config import Settings
from ..database import utc_now
from ..users.model import User

TokenType = Literal["access", "refresh", "reset", "verify"]

# Pinned: a token must never choose its own algorithm (no "none", no RS/HS confusion).
ALGORITHM = "HS256"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
# At most this many verified tokens are remembered (_verified_claims): under a megabyte.
VERIFIED_TOKENS_KEPT = 1024


class InvalidTokenError(Exception):
    """The token is malformed, expired, wrongly signed or of the wrong type."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    # None in a refresh token issued before tokens carried it; an access token must.
    user_created: int | None
    jti: str
    expires_at: datetime

    def is_for_user_created_at(self, created_at: datetime) -> bool:
        """Whether the token is the user's of its id who was made then, not an earlier one's."""
        return self.user_created == created_stamp(created_at)


def created_stamp(created_at: datetime) -> int:
    """When a user was made, in whole microseconds: with their id it names them for good. An id
    alone may name a later user once theirs is deleted: SQLite hands the highest id out again."""
    return (created_at - EPOCH) // ONE_MICROSECOND


def issue_token(
    settings: Settings, user: User, token_type: TokenType, *, jti: str | None = None
) -> IssuedToken:
    """A signed token of this type for the user; its id is `jti`, or a new random one."""
    issued_at = utc_now()
    lifetime = {
        "access": timedelta(minutes=settings.access_token_expire_minutes),
        "refresh": timedelta(days=settings.refresh_token_expire_days),
        "reset": timedelta(minutes=settings.password_reset_expire_minutes),
        "verify": timedelta(hours=settings.email_verification_expire_hours),
    }[token_type]
    expires_at = issued_at + lifetime
    jti = jti or uuid.uuid4().hex
    claims = {
        "sub": str(user.id),
        "user_created": created_stamp(user.created_at),
        "type": token_type,
        "jti": jti,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def decode_token(settings: Settings, token: str, token_type: TokenType) -> TokenClaims:
    claims = _verified_claims(settings.secret_key.get_secret_value(), token, token_type)
    # Refused from the moment `exp` names on (RFC 7519), as the live feed closes its socket.
    if utc_now() >= claims.expires_at:
        raise InvalidTokenError("the token has expired")
    return claims


# A client sends the same access token with every request until it expires: each token is
# verified once and then remembered, which saves about 6% of the CPU of a read by id. Only tokens
# that verified are kept (a refused one raises), keyed on the key that signed them and the type
# they were verified as; `decode_token` checks a kept token's expiry on every use.
@lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified_claims(secret: str, token: str, token_type: TokenType) -> TokenClaims:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"verify_exp": False})
    except JWTError as error:
        raise InvalidTokenError(str(error)) from error
    if claims.get("type") != token_type:
        raise InvalidTokenError(f"expected a {token_type} token")
    user_created = claims.get("user_created")
    if user_created is None and token_type == "access":
        raise InvalidTokenError("an access token must say when its user was made")
    try:
        return TokenClaims(
            user_id=int(claims["sub"]),
            user_created=None if user_created is None else int(user_created),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidTokenError("missing or malformed claims") from error
