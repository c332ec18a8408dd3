"""Port contents: each published snapshot's data files and column statistics.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("files", sa.JSON, nullable=True))
        batch.add_column(sa.Column("stats", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("stats")
        batch.drop_column("files")
