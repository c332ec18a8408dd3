"""Usage on SQLAlchemy: one row a port served, summed by consumer or by day when read back.

A write may be told to wait only briefly for the database (`SqlUsageStore.record`'s
``wait``): metering runs after a read, and a publish in another process holding SQLite's
write lock must not hold the reader up for the ten seconds every other write waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import distinct, func, insert, select

from quanta.model.actor import ActorKind
from quanta.model.usage import ConsumerUsage, DailyUsage, ReadKind, UsageRecord
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc, waiting

_TABLE = schema.port_usage
# The columns' widths, checked here so that SQLite refuses what PostgreSQL would.
_LENGTHS = {"product_id": 130, "port": 63, "consumer": 255, "consumer_kind": 16, "read_kind": 16}


class SqlUsageStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, reads: Sequence[UsageRecord], *, wait: float | None = None) -> None:
        values = [_values(read) for read in reads]
        if not values:
            return
        with self.database.engine.connect() as connection, waiting(connection, wait):
            connection.execute(insert(_TABLE), values)
            connection.commit()

    def reads(
        self, *, product: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[UsageRecord]:
        query = _where(select(_TABLE), product, since).order_by(_TABLE.c.at, _TABLE.c.id)
        with self.database.engine.connect() as connection:
            return [_record(row) for row in connection.execute(query.limit(limit))]

    def by_consumer(
        self, *, product: str | None = None, since: datetime | None = None
    ) -> list[ConsumerUsage]:
        last = func.max(_TABLE.c.at)
        query = _where(
            select(
                _TABLE.c.product_id,
                _TABLE.c.consumer,
                _TABLE.c.consumer_kind,
                func.count().label("reads"),
                func.sum(_TABLE.c.rows).label("rows"),
                func.sum(_TABLE.c.bytes).label("bytes"),
                last.label("last_read"),
            ),
            product,
            since,
        )
        query = query.group_by(
            _TABLE.c.product_id, _TABLE.c.consumer, _TABLE.c.consumer_kind
        ).order_by(last.desc(), _TABLE.c.product_id, _TABLE.c.consumer)
        with self.database.engine.connect() as connection:
            return [
                ConsumerUsage(
                    product=row.product_id,
                    consumer=row.consumer,
                    kind=ActorKind(row.consumer_kind),
                    reads=int(row.reads),
                    rows=int(row.rows),
                    bytes=int(row.bytes),
                    last_read=aware(row.last_read),
                )
                for row in connection.execute(query)
            ]

    def by_day(
        self, *, product: str | None = None, since: datetime | None = None
    ) -> list[DailyUsage]:
        # date() is a function on SQLite and PostgreSQL alike (a cast to DATE is not, on
        # SQLite: it yields the year); SQLite answers text, PostgreSQL a date.
        day = func.date(_TABLE.c.at)
        query = _where(
            select(
                day.label("day"),
                func.count().label("reads"),
                func.count(distinct(_TABLE.c.consumer)).label("consumers"),
                func.sum(_TABLE.c.rows).label("rows"),
                func.sum(_TABLE.c.bytes).label("bytes"),
            ),
            product,
            since,
        )
        query = query.group_by(day).order_by(day)
        with self.database.engine.connect() as connection:
            return [
                DailyUsage(
                    day=row.day if isinstance(row.day, date) else date.fromisoformat(row.day),
                    reads=int(row.reads),
                    consumers=int(row.consumers),
                    rows=int(row.rows),
                    bytes=int(row.bytes),
                )
                for row in connection.execute(query)
            ]


def _where(query: Any, product: str | None, since: datetime | None) -> Any:
    if product is not None:
        query = query.where(_TABLE.c.product_id == product)
    if since is not None:
        query = query.where(_TABLE.c.at >= naive_utc(since))
    return query


def _values(read: UsageRecord) -> dict[str, Any]:
    values = {
        "at": naive_utc(read.at),
        "product_id": read.product,
        "port": read.port,
        "version": read.version,
        "consumer": read.consumer,
        "consumer_kind": read.consumer_kind.value,
        "purpose": read.purpose,
        "grant_id": read.grant,
        "read_kind": read.read.value,
        "rows": read.rows,
        "bytes": read.bytes,
        "seconds": read.seconds,
    }
    for column, longest in _LENGTHS.items():
        text = str(values[column])
        if not text or len(text) > longest:
            raise ValueError(f"a read's {column} has 1 to {longest} characters")
    if any("\x00" in str(values[column]) for column in (*_LENGTHS, "purpose")):
        raise ValueError("a read's names hold a NUL character, which PostgreSQL cannot keep")
    return values


def _record(row: Any) -> UsageRecord:
    return UsageRecord(
        at=aware(row.at),
        product=row.product_id,
        port=row.port,
        version=row.version,
        consumer=row.consumer,
        consumer_kind=ActorKind(row.consumer_kind),
        purpose=row.purpose,
        grant=row.grant_id,
        read=ReadKind(row.read_kind),
        rows=row.rows,
        bytes=row.bytes,
        seconds=row.seconds,
    )
