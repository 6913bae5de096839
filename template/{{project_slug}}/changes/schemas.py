from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .resources import FEED_RESOURCES

MAX_CURSOR = 2**63 - 1


class CloseCode(IntEnum):
    """Why the server closed a socket of /changes: codes 4000-4999 are the application's own."""

    # The first message is not a subscription; the close reason says what is wrong with it.
    BAD_SUBSCRIPTION = 4400
    # The access token is invalid or has expired, when subscribing or while the socket is open.
    NOT_AUTHENTICATED = 4401
    # The user is inactive or gone, their superuser flag changed, or they have logged out of
    # every session (every refresh token revoked or expired).
    FORBIDDEN = 4403
    # No subscription arrived in time.
    SUBSCRIPTION_TIMEOUT = 4408
    # The client read too slowly for the events: reconnect with the last cursor received.
    FELL_BEHIND = 4409
    # The user holds CHANGES_SOCKETS_PER_USER sockets on this process already.
    TOO_MANY_SOCKETS = 4429
    # The database is unavailable (RFC 6455's "try again later").
    TRY_AGAIN_LATER = 1013


class Subscription(BaseModel):
    """The first message on /changes: who the client is, what it follows and where it left off."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(max_length=4096)
    # Every resource when left out.
    resources: list[str] | None = Field(default=None, min_length=1, max_length=100)
    # The last cursor received, to receive what was missed since.
    cursor: int | None = Field(default=None, ge=0, le=MAX_CURSOR)

    @field_validator("resources")
    @classmethod
    def _known(cls, resources: list[str] | None) -> list[str] | None:
        for name in resources or ():
            if name not in FEED_RESOURCES:
                known = ", ".join(FEED_RESOURCES)
                raise ValueError(f"{name[:40]!r} is not a resource here; the feed has {known}")
        return resources
