"""key_checks: a keyed digest of the pseudonym key the stored patients were made with

Revision ID: 0017_key_checks
Revises: 0016_region_subjects

An import made with another pseudonym key (a development key created in another folder, a
production key rotated without re-pseudonymizing) would store every patient under a new
pseudonym, silently cutting them from their history. The first import records an HMAC of a fixed
text under the key (not the key); a later import with another key is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_key_checks"
down_revision = "0016_region_subjects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_checks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_key_checks"),
    )


def downgrade() -> None:
    op.drop_table("key_checks")
