"""Each input of a version keeps the upstream columns its transformation reads: a consumer's
reliance, which a producer's breaking change is checked against.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inputs", sa.Column("columns", sa.JSON))


def downgrade() -> None:
    # Not in a batch: SQLite would copy the table, which the foreign keys refuse.
    op.drop_column("inputs", "columns")
