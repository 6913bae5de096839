from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..users.model import User
from .model import RefreshToken


async def revoke_all_refresh_tokens(session: AsyncSession, user_id: int) -> None:
    """Revoke every refresh token of the user, in the session's transaction (not committed)."""
    # Lock the user's row first (FOR NO KEY UPDATE): concurrent revocations of one user's
    # tokens, as racing reuses make, then take turns instead of deadlocking over the token rows.
    await session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked.is_(False))
        .values(revoked=True)
    )
