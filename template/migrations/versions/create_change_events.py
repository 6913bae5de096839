"""Create change_events, the history of the live feed of changes.

Revision ID: create_change_events
Revises: add_users_verification
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "create_change_events"
down_revision: str | Sequence[str] | None = "add_users_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=6), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_change_events_created_at"), "change_events", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_change_events_created_at"), table_name="change_events")
    op.drop_table("change_events")
