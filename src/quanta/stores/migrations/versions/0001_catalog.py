"""The catalog: products, their versions, output ports, inputs, and full-text search.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.String(130), primary_key=True),
        sa.Column("domain", sa.String(63), nullable=False, index=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("descriptor", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "versions",
        sa.Column("product_id", sa.String(130), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
    )
    op.create_table(
        "ports",
        sa.Column("product_id", sa.String(130), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("port", sa.String(63), primary_key=True),
        sa.Column("contract_version", sa.String(32), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("snapshot_id", sa.BigInteger, nullable=False),
        sa.Column("metadata_location", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("contract", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id", "version"], ["versions.product_id", "versions.version"]
        ),
    )
    op.create_table(
        "inputs",
        sa.Column("product_id", sa.String(130), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("port", sa.String(63), primary_key=True),
        sa.Column("upstream", sa.String(130), index=True),
        sa.Column("upstream_port", sa.String(63)),
        sa.Column("upstream_version", sa.Integer),
        sa.Column("source", sa.Text),
        sa.ForeignKeyConstraint(
            ["product_id", "version"], ["versions.product_id", "versions.version"]
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE product_search USING fts5("
            "product_id UNINDEXED, name, domain, owner, description, columns, tags, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        op.create_table(
            "product_search",
            sa.Column("product_id", sa.String(130), primary_key=True),
            *(
                sa.Column(name, sa.Text)
                for name in ("name", "domain", "owner", "description", "columns", "tags")
            ),
        )


def downgrade() -> None:
    op.drop_table("product_search")
    for table in ("inputs", "ports", "versions", "products"):
        op.drop_table(table)
