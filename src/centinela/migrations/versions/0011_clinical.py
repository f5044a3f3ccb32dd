"""clinical report: delegate accounts (users.delegate_of)

Revision ID: 0011_clinical
Revises: 0010_intake
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_clinical"
down_revision = "0010_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("delegate_of", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("delegate_of")
