"""Check runs: every check of a published version, kept as history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.String(130), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
    )
    op.create_index("ix_check_runs_product", "check_runs", ["product_id", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_check_runs_product", "check_runs")
    op.drop_table("check_runs")
