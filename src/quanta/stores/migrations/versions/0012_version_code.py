"""Each version keeps a hash of what it was built from (its descriptor, contracts and
transformation code), so that a rebuild can tell a folder changed since.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("versions", sa.Column("code", sa.String(64)))


def downgrade() -> None:
    # Not in a batch: SQLite would copy the table, which the ports' foreign key refuses.
    op.drop_column("versions", "code")
