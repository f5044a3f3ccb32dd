"""detect_state remembers the imports a run could not see yet (late commits)

Revision ID: 0015_detect_state_imports
Revises: 0014_movements_collate_c

Two nullable columns: ``imports_upto`` (the highest import id the run saw) and ``import_gaps``
(JSON list of the lower import ids it did not see). A state written before this migration has
neither, and the next incremental run behaves as before (ids only) until it records them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_detect_state_imports"
down_revision = "0014_movements_collate_c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detect_state") as batch_op:
        batch_op.add_column(sa.Column("imports_upto", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("import_gaps", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("detect_state") as batch_op:
        batch_op.drop_column("import_gaps")
        batch_op.drop_column("imports_upto")
