"""Access: requests to read a product, the grants the approved ones are, and who built
each product's dev branch.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.String(130), nullable=False),
        sa.Column("port", sa.String(63)),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("consumer_kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("columns", sa.JSON),
        sa.Column("without_private", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(255)),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("note", sa.Text),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("closed_by", sa.String(255)),
        sa.Column("closed_at", sa.DateTime),
    )
    op.create_table(
        "dev_builds",
        sa.Column("product_id", sa.String(130), primary_key=True),
        sa.Column("team", sa.String(255), nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("built_by", sa.String(255), nullable=False),
        sa.Column("built_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_access_requests_product", "access_requests", ["product_id", "state"])
    op.create_index("ix_access_requests_consumer", "access_requests", ["consumer", "state"])


def downgrade() -> None:
    op.drop_index("ix_access_requests_consumer", "access_requests")
    op.drop_index("ix_access_requests_product", "access_requests")
    op.drop_table("access_requests")
    op.drop_table("dev_builds")
