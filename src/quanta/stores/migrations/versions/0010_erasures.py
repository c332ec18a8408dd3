"""Subject erasures and retention runs, resumable until done, with their receipts.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("concept", sa.String(63), nullable=False),
        sa.Column("identifier", sa.String(63), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(300), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sealed", sa.LargeBinary),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("products", sa.JSON, nullable=False),
        sa.Column("receipt", sa.JSON),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_index("ix_erasures_state", "erasures", ["state", "requested_at"])
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("by", sa.String(300), nullable=False),
        sa.Column("product", sa.String(130)),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("run", sa.JSON, nullable=False),
    )
    op.create_index("ix_retention_runs_done", "retention_runs", ["done", "at"])


def downgrade() -> None:
    op.drop_index("ix_retention_runs_done", table_name="retention_runs")
    op.drop_table("retention_runs")
    op.drop_index("ix_erasures_state", table_name="erasures")
    op.drop_table("erasures")
