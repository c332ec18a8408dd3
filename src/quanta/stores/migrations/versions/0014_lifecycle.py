"""Deprecations and retirements of products, ports and major versions of ports.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle",
        sa.Column("product_id", sa.String(130), primary_key=True),
        sa.Column("port", sa.String(63), primary_key=True),
        sa.Column("major", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sunset", sa.Date),
        sa.Column("replacement", sa.String(300)),
        sa.Column("by", sa.String(320), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lifecycle")
