"""analyst workspace: numbered cases, linked alerts, case log, attachments, saved inbox filters

Revision ID: 0012_cases
Revises: 0008_quarterly
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_cases"
down_revision = "0008_quarterly"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=2), nullable=True),
        sa.Column("assignee", sa.String(length=80), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_department"), ["department"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_assignee"), ["assignee"], unique=False)
    op.create_table(
        "case_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.Column("linked_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_case_alerts_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_alerts")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_case_alerts_alert_id")),
    )
    with op.batch_alter_table("case_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_alerts_case_id"), ["case_id"], unique=False)
    op.create_table(
        "case_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_case_entries_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_entries")),
    )
    with op.batch_alter_table("case_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_entries_case_id"), ["case_id"], unique=False)
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_case_attachments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_attachments_case_id"), ["case_id"],
                              unique=False)
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
        sa.UniqueConstraint("username", "name", name="uq_saved_filters_user_name"),
    )
    with op.batch_alter_table("saved_filters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_filters_username"), ["username"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("saved_filters")
    op.drop_table("case_attachments")
    op.drop_table("case_entries")
    op.drop_table("case_alerts")
    op.drop_table("cases")
