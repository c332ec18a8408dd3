"""Each published port keeps the mapping its version declared (the columns whose values
denote one subject), so that erasure follows it after a later version stops declaring it.

Ports published before keep the mapping their product's current descriptor declares: the
one thing known of them.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ports") as table:
        table.add_column(sa.Column("mapped", sa.JSON))
    connection = op.get_bind()
    products = sa.table("products", sa.column("id", sa.String), sa.column("descriptor", sa.JSON))
    ports = sa.table(
        "ports",
        sa.column("product_id", sa.String),
        sa.column("port", sa.String),
        sa.column("mapped", sa.JSON),
    )
    for product_id, descriptor in connection.execute(
        sa.select(products.c.id, products.c.descriptor)
    ):
        for port, columns in _declared(descriptor).items():
            connection.execute(
                ports.update()
                .where(ports.c.product_id == product_id, ports.c.port == port)
                .values(mapped=columns)
            )


def _declared(descriptor: Any) -> dict[str, list[str]]:
    """The mappings a stored descriptor declares: port to columns (what does not read as
    one is left out, as the erasure leaves it out)."""
    found: dict[str, list[str]] = {}
    properties = descriptor.get("customProperties") if isinstance(descriptor, dict) else None
    for item in properties if isinstance(properties, list) else []:
        if not isinstance(item, dict) or item.get("property") != "mappings":
            continue
        values = item.get("value")
        for value in values if isinstance(values, list) else []:
            port = value.get("port") if isinstance(value, dict) else None
            columns = value.get("columns") if isinstance(value, dict) else None
            if (
                isinstance(port, str)
                and isinstance(columns, list)
                and len(columns) >= 2
                and all(isinstance(name, str) for name in columns)
            ):
                found[port] = columns
        break
    return found


def downgrade() -> None:
    with op.batch_alter_table("ports") as table:
        table.drop_column("mapped")
