"""The history of check runs on SQLAlchemy: each run of a published version's checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from quanta.model.catalog import CheckRecord
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc
from quanta.stores.events import SqlEventStore


class SqlCheckStore:
    def __init__(self, database: Database, events: SqlEventStore) -> None:
        self.database = database
        self.history = events

    def record_checks(self, record: CheckRecord, told: dict[str, Any] | None = None) -> None:
        with self.database.engine.begin() as connection:
            self.write(connection, record)
            if told is not None:
                self.history.write(
                    connection, "checks.run", record.checked_at, record.product, told
                )

    def write(self, connection: Connection, record: CheckRecord) -> None:
        """Keep ``record`` inside the caller's transaction: a publish's run commits with it."""
        connection.execute(
            insert(schema.check_runs).values(
                product_id=record.product,
                version=record.version,
                checked_at=naive_utc(record.checked_at),
                trigger=record.trigger,
                outcome=record.outcome,
                checks=record.checks,
            )
        )

    def check_history(self, product_id: str, since: datetime) -> list[CheckRecord]:
        runs = schema.check_runs
        with self.database.engine.connect() as connection:
            rows = connection.execute(
                select(runs)
                .where(runs.c.product_id == product_id, runs.c.checked_at >= naive_utc(since))
                .order_by(runs.c.checked_at, runs.c.id)
            )
            return [
                CheckRecord(
                    product=row.product_id,
                    version=row.version,
                    checked_at=aware(row.checked_at),
                    trigger=row.trigger,
                    outcome=row.outcome,
                    checks=row.checks,
                )
                for row in rows
            ]
