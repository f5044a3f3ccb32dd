"""intake extensions: product GTIN, periodic balances, special prescription form blocks

Revision ID: 0010_intake
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_intake"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("gtin", sa.String(length=14), nullable=True))
        batch.create_index("ix_products_gtin", ["gtin"], unique=False)
    op.create_table(
        "periodic_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("establishment_id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("opening_units", sa.Float(), nullable=False),
        sa.Column("receipts_units", sa.Float(), nullable=False),
        sa.Column("issues_units", sa.Float(), nullable=False),
        sa.Column("closing_units", sa.Float(), nullable=False),
        sa.Column("department", sa.String(length=2), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_periodic_balances")),
        sa.UniqueConstraint("establishment_id", "product_code", "period_end",
                            name=op.f("uq_periodic_balances_establishment_id")),
    )
    op.create_index("ix_periodic_balances_establishment_id", "periodic_balances",
                    ["establishment_id"])
    op.create_index("ix_periodic_balances_period_end", "periodic_balances", ["period_end"])
    op.create_index("ix_periodic_balances_department", "periodic_balances", ["department"])
    op.create_table(
        "prescription_form_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=30), nullable=False),
        sa.Column("first_number", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("prescriber_id", sa.String(length=40), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("issuer", sa.String(length=80), nullable=True),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescription_form_blocks")),
        sa.UniqueConstraint("series", "first_number",
                            name=op.f("uq_prescription_form_blocks_series")),
    )
    op.create_index("ix_prescription_form_blocks_prescriber_id", "prescription_form_blocks",
                    ["prescriber_id"])


def downgrade() -> None:
    op.drop_table("prescription_form_blocks")
    op.drop_table("periodic_balances")
    with op.batch_alter_table("products") as batch:
        batch.drop_index("ix_products_gtin")
        batch.drop_column("gtin")
