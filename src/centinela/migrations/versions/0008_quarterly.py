"""certificates and quarterly reports

Revision ID: 0008_quarterly
Revises: 0009_customs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_quarterly"
down_revision = "0009_customs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.String(length=60), nullable=False),
        sa.Column("professional_id", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("expiry_derived", sa.Boolean(), nullable=False),
        sa.Column("course", sa.String(length=200), nullable=True),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("professional_id", "certificate_id", name="uq_certificates_prof_cert"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_professional_id"), ["professional_id"],
                              unique=False)
    op.create_table(
        "quarterly_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=6), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("generated_at", sa.DateTime(), nullable=False),
        sa.Column("generated_by", sa.String(length=80), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarterly_reports")),
        sa.UniqueConstraint("quarter", name=op.f("uq_quarterly_reports_quarter")),
    )


def downgrade() -> None:
    op.drop_table("quarterly_reports")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_professional_id"))
    op.drop_table("certificates")
