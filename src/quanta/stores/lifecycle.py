"""Deprecations and retirements on SQLAlchemy; each change also told in the event history,
in the same transaction."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from quanta.model.lifecycle import LifecycleEntry, State
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc
from quanta.stores.events import SqlEventStore

EVENT_KINDS = {State.DEPRECATED: "product.deprecated", State.RETIRED: "product.retired"}


class SqlLifecycleStore:
    def __init__(self, database: Database, events: SqlEventStore) -> None:
        self.database = database
        self.history = events

    def set(self, entry: LifecycleEntry) -> None:
        with self.database.engine.begin() as connection:
            self.write(connection, entry)

    def write(self, connection: Connection, entry: LifecycleEntry) -> None:
        """Keep ``entry`` inside the caller's transaction (a publish deprecating the majors
        before the one it serves), replacing what was said of the same target."""
        table = schema.lifecycle
        connection.execute(
            delete(table).where(
                table.c.product_id == entry.product,
                table.c.port == entry.port,
                table.c.major == entry.major,
            )
        )
        connection.execute(
            insert(table).values(
                product_id=entry.product,
                port=entry.port,
                major=entry.major,
                state=entry.state.value,
                sunset=entry.sunset,
                replacement=entry.replacement,
                by=entry.by,
                at=naive_utc(entry.at),
                reason=entry.reason,
            )
        )
        self.history.write(
            connection,
            EVENT_KINDS[entry.state],
            entry.at,
            entry.product,
            entry.model_dump(mode="json", exclude={"at"}),
        )

    def entries(self, product_id: str | None = None) -> list[LifecycleEntry]:
        table = schema.lifecycle
        query = select(table).order_by(table.c.product_id, table.c.port, table.c.major)
        if product_id is not None:
            query = query.where(table.c.product_id == product_id)
        with self.database.engine.connect() as connection:
            return [
                LifecycleEntry(
                    product=row.product_id,
                    port=row.port,
                    major=row.major,
                    state=State(row.state),
                    sunset=row.sunset,
                    replacement=row.replacement,
                    by=row.by,
                    at=aware(row.at),
                    reason=row.reason,
                )
                for row in connection.execute(query)
            ]
