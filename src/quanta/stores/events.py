"""The event history on SQLAlchemy: one row an event, read back by subject over time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, not_, or_, select

from quanta.model.events import ACCESS_KINDS, Audience, EventRecord, NewEvent
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc, waiting

# The columns' widths, checked here so that SQLite refuses what PostgreSQL would.
_KIND_LENGTH = schema.EVENT_KIND_LENGTH
_SUBJECT_LENGTH = schema.EVENT_SUBJECT_LENGTH


class SqlEventStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, kind: str, at: datetime, subject: str, payload: dict[str, Any]) -> None:
        with self.database.engine.begin() as connection:
            self.write(connection, kind, at, subject, payload)

    def append_all(self, events: Sequence[NewEvent], *, wait: float | None = None) -> None:
        """Append every one of ``events``, or none: in one transaction, waiting at most
        ``wait`` seconds for another writer (the usual busy timeout when None)."""
        for event in events:
            _checked(event.kind, event.subject)
        with self.database.engine.begin() as connection, waiting(connection, wait):
            for event in events:
                self.write(connection, event.kind, event.at, event.subject, event.payload)

    def write(
        self, connection: Connection, kind: str, at: datetime, subject: str, payload: dict[str, Any]
    ) -> None:
        """Append inside the caller's transaction: the event commits with what it tells of."""
        _checked(kind, subject)
        connection.execute(
            insert(schema.events).values(
                kind=kind, at=naive_utc(at), subject=subject, payload=payload
            )
        )

    def events(
        self,
        *,
        since: datetime | None = None,
        kinds: Collection[str] = (),
        subject: str | None = None,
        limit: int = 1000,
        after: int | None = None,
        newest: bool = False,
        audience: Audience | None = None,
    ) -> list[EventRecord]:
        table = schema.events
        if after is not None:  # resuming (--follow): by number, so none is told twice
            order: tuple[Any, ...] = (table.c.id,)
        elif newest:
            order = (table.c.at.desc(), table.c.id.desc())
        else:
            order = (table.c.at, table.c.id)
        query = select(table).order_by(*order).limit(limit)
        if after is not None:
            query = query.where(table.c.id > after)
        if since is not None:
            query = query.where(table.c.at >= naive_utc(since))
        if kinds:
            query = query.where(table.c.kind.in_(list(kinds)))
        if subject is not None:
            query = query.where(table.c.subject == subject)
        if audience is not None:
            query = query.where(_heard(audience))
        with self.database.engine.connect() as connection:
            found = [
                EventRecord(
                    id=row.id,
                    kind=row.kind,
                    at=aware(row.at),
                    subject=row.subject,
                    payload=row.payload,
                )
                for row in connection.execute(query)
            ]
        return found[::-1] if newest else found


def _heard(audience: Audience) -> ColumnElement[bool]:
    """`Audience.hears`, as a condition on the log's rows."""
    table = schema.events
    access = table.c.kind.startswith(ACCESS_KINDS, autoescape=True)
    consumer = table.c.payload["consumer"].as_string()
    by_product = func.coalesce(table.c.payload["consumer_kind"].as_string(), "") == "product"
    heard: list[ColumnElement[bool]] = [
        table.c.payload[("actor", "name")].as_string() == audience.by,
        and_(access, not_(by_product), consumer == audience.by),
    ]
    if audience.owned:
        owned = sorted(audience.owned)
        heard.append(table.c.subject.in_(owned))
        heard.append(and_(access, by_product, consumer.in_(owned)))
    if audience.read:
        heard.append(and_(table.c.subject.in_(sorted(audience.read)), not_(access)))
    return or_(*heard)


def _checked(kind: str, subject: str) -> None:
    if not kind or len(kind) > _KIND_LENGTH:
        raise ValueError(f"an event's kind has 1 to {_KIND_LENGTH} characters: {kind!r}")
    if len(subject) > _SUBJECT_LENGTH:
        raise ValueError(f"an event's subject has at most {_SUBJECT_LENGTH} characters")
