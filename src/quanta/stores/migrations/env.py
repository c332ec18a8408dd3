"""Alembic environment: Quanta hands it an open connection; it never reads an ini file."""

from __future__ import annotations

from alembic import context

from quanta.stores.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
