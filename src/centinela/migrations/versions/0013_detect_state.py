"""detection watermark for incremental runs (detect_state)

Revision ID: 0013_detect_state
Revises: 0012_partitions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_detect_state"
down_revision = "0012_partitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detect_state",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("last_movement_id", sa.Integer(), nullable=False),
        sa.Column("now", sa.DateTime(), nullable=False),
        sa.Column("lookback_days", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("full_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_detect_state")),
    )


def downgrade() -> None:
    op.drop_table("detect_state")
