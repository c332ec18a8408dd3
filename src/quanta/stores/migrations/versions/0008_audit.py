"""Audit: the governance audit log, each entry sealed with the hash of the one before.

The head of the chain is also kept outside the database, in the mesh home (``audit.head``,
written by `quanta.governance.audit`): no table here holds it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "seq"])
    op.create_index("ix_audit_log_kind", "audit_log", ["kind", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_kind", "audit_log")
    op.drop_index("ix_audit_log_subject", "audit_log")
    op.drop_table("audit_log")
