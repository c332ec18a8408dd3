"""Access requests that ask to read PII in clear, with a reason, and grants approved for it.

Grants approved before governance read private columns in clear unless they were approved
without them: they keep that.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_requests") as table:
        table.add_column(sa.Column("pii_reason", sa.Text))
        table.add_column(
            sa.Column("clear_pii", sa.Boolean, nullable=False, server_default=sa.false())
        )
    requests = sa.table(
        "access_requests",
        sa.column("state", sa.String),
        sa.column("without_private", sa.Boolean),
        sa.column("clear_pii", sa.Boolean),
    )
    op.execute(
        requests.update()
        .where(requests.c.state == "approved", requests.c.without_private == sa.false())
        .values(clear_pii=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("access_requests") as table:
        table.drop_column("clear_pii")
        table.drop_column("pii_reason")
