"""Consumers' expectations of the ports they read: rules checked at each publish.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expectations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product", sa.String(130), nullable=False),
        sa.Column("port", sa.String(63), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("consumer", sa.String(320), nullable=False),
        sa.Column("by", sa.String(320), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_expectations_port", "expectations", ["product", "port", "major"])


def downgrade() -> None:
    op.drop_index("ix_expectations_port", "expectations")
    op.drop_table("expectations")
