"""Consumers' expectations on SQLAlchemy."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from quanta.model.expectations import Expectation
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc


class SqlExpectationStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set(self, expectation: Expectation) -> Expectation:
        """Keep ``expectation``, replacing the consumer's earlier one of the same port and
        major (none kept when it has no rules)."""
        with self.database.engine.begin() as connection:
            return self.write(connection, expectation)

    def write(self, connection: Connection, expectation: Expectation) -> Expectation:
        """`set`, inside the caller's transaction (a consumer's publish declaring it)."""
        table = schema.expectations
        connection.execute(
            delete(table).where(
                table.c.product == expectation.product,
                table.c.port == expectation.port,
                table.c.major == expectation.major,
                table.c.consumer == expectation.consumer,
            )
        )
        if not expectation.rules:
            return expectation
        result = connection.execute(
            insert(table).values(
                product=expectation.product,
                port=expectation.port,
                major=expectation.major,
                consumer=expectation.consumer,
                by=expectation.by,
                rules=expectation.rules,
                at=naive_utc(expectation.at),
            )
        )
        key = result.inserted_primary_key
        assert key is not None, "an insert has a key"
        return expectation.model_copy(update={"id": int(key[0])})

    def expectations(
        self, product: str, port: str | None = None, major: int | None = None
    ) -> list[Expectation]:
        table = schema.expectations
        query = select(table).where(table.c.product == product).order_by(table.c.id)
        if port is not None:
            query = query.where(table.c.port == port)
        if major is not None:
            query = query.where(table.c.major == major)
        with self.database.engine.connect() as connection:
            return [
                Expectation(
                    id=row.id,
                    product=row.product,
                    port=row.port,
                    major=row.major,
                    consumer=row.consumer,
                    by=row.by,
                    rules=list(row.rules),
                    at=aware(row.at),
                )
                for row in connection.execute(query)
            ]
