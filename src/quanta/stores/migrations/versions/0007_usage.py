"""Usage: every port served to a consumer, with the grant and purpose it was read for.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "port_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("product_id", sa.String(130), nullable=False),
        sa.Column("port", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("consumer_kind", sa.String(16), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("grant_id", sa.Integer),
        sa.Column("read_kind", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_port_usage_product", "port_usage", ["product_id", "at"])
    op.create_index("ix_port_usage_at", "port_usage", ["at"])


def downgrade() -> None:
    op.drop_index("ix_port_usage_at", "port_usage")
    op.drop_index("ix_port_usage_product", "port_usage")
    op.drop_table("port_usage")
