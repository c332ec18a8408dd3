"""Webhook subscriptions and their deliveries on SQLAlchemy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from quanta.model.events import EventRecord
from quanta.model.webhooks import Delivery, DeliveryState, Webhook
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc

_EVENTS_A_ROUND = 1000


class SqlWebhookStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, webhook: Webhook, nonce: str) -> Webhook:
        """Keep a new subscription; it hears the events logged from now on."""
        table = schema.webhooks
        with self.database.engine.begin() as connection:
            latest = connection.execute(
                select(schema.events.c.id).order_by(schema.events.c.id.desc()).limit(1)
            ).scalar()
            cursor = int(latest or 0)
            result = connection.execute(
                insert(table).values(
                    url=webhook.url,
                    product=webhook.product,
                    domain=webhook.domain,
                    kinds=list(webhook.kinds),
                    nonce=nonce,
                    created_by=webhook.created_by,
                    created_at=naive_utc(webhook.created_at),
                    start=cursor,
                    cursor=cursor,
                )
            )
            key = result.inserted_primary_key
            assert key is not None, "an insert has a key"
            number = int(key[0])
        return webhook.model_copy(update={"id": number, "start": cursor, "cursor": cursor})

    def remove(self, webhook_id: int) -> bool:
        with self.database.engine.begin() as connection:
            connection.execute(
                delete(schema.webhook_deliveries).where(
                    schema.webhook_deliveries.c.webhook_id == webhook_id
                )
            )
            done = connection.execute(
                delete(schema.webhooks).where(schema.webhooks.c.id == webhook_id)
            )
            return bool(done.rowcount)

    def webhooks(self) -> list[Webhook]:
        with self.database.engine.connect() as connection:
            rows = connection.execute(select(schema.webhooks).order_by(schema.webhooks.c.id))
            return [_webhook(row._mapping) for row in rows]

    def nonce(self, webhook_id: int) -> str | None:
        with self.database.engine.connect() as connection:
            found = connection.execute(
                select(schema.webhooks.c.nonce).where(schema.webhooks.c.id == webhook_id)
            ).scalar()
            return None if found is None else str(found)

    def enqueue(self, now: datetime, late: float = 600.0) -> int:
        """Queue, for each subscription, the events it wants that are not queued yet: those
        past its cursor, and those of the last ``late`` seconds (an event's id is taken at
        insert, so one may commit after a later one was queued). Each event is queued once
        for a subscription (a unique index), also when two runs go at once. The number
        queued."""
        e, d = schema.events, schema.webhook_deliveries
        queued = 0
        since = naive_utc(now - timedelta(seconds=late))
        for webhook in self.webhooks():
            with self.database.engine.begin() as connection:
                events = connection.execute(
                    select(e.c.id, e.c.kind, e.c.subject)
                    .where(e.c.id > webhook.start, or_(e.c.id > webhook.cursor, e.c.at >= since))
                    .order_by(e.c.id)
                    .limit(_EVENTS_A_ROUND)
                ).all()
                if not events:
                    continue
                had: set[int] = set(
                    connection.execute(
                        select(d.c.event_id).where(
                            d.c.webhook_id == webhook.id, d.c.event_id >= events[0].id
                        )
                    ).scalars()
                )
                wanted = [
                    row.id
                    for row in events
                    if row.id not in had and webhook.wants(row.kind, row.subject)
                ]
                try:
                    with connection.begin_nested():
                        for event_id in wanted:
                            connection.execute(
                                insert(d).values(
                                    webhook_id=webhook.id,
                                    event_id=event_id,
                                    state=DeliveryState.PENDING.value,
                                    attempts=0,
                                    next_at=naive_utc(now),
                                )
                            )
                except IntegrityError:  # another run queued them first
                    continue
                highest = max(webhook.cursor, events[-1].id)
                connection.execute(
                    update(schema.webhooks)
                    .where(schema.webhooks.c.id == webhook.id, schema.webhooks.c.cursor < highest)
                    .values(cursor=highest)
                )
                queued += len(wanted)
        return queued

    def claim(self, delivery_id: int, now: datetime, until: datetime) -> bool:
        """Take a due delivery for sending until ``until``; False when another run has."""
        d = schema.webhook_deliveries
        with self.database.engine.begin() as connection:
            done = connection.execute(
                update(d)
                .where(
                    d.c.id == delivery_id,
                    d.c.state == DeliveryState.PENDING.value,
                    d.c.next_at <= naive_utc(now),
                )
                .values(next_at=naive_utc(until))
            )
            return done.rowcount == 1

    def due(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, Webhook, EventRecord]]:
        """Pending deliveries whose time has come, oldest event first, with their
        subscription and event."""
        d, w, e = schema.webhook_deliveries, schema.webhooks, schema.events
        query = (
            select(
                d,
                w.c.url,
                w.c.product,
                w.c.domain,
                w.c.kinds,
                w.c.created_by,
                w.c.created_at,
                w.c.start,
                w.c.cursor,
                e.c.kind,
                e.c.at,
                e.c.subject,
                e.c.payload,
            )
            .join(w, w.c.id == d.c.webhook_id)
            .join(e, e.c.id == d.c.event_id)
            .where(d.c.state == DeliveryState.PENDING.value, d.c.next_at <= naive_utc(now))
            .order_by(d.c.event_id, d.c.id)
            .limit(limit)
        )
        with self.database.engine.connect() as connection:
            found = []
            for row in connection.execute(query):
                delivery = _delivery(row._mapping)
                webhook = Webhook(
                    id=row.webhook_id,
                    url=row.url,
                    product=row.product,
                    domain=row.domain,
                    kinds=list(row.kinds or []),
                    created_by=row.created_by,
                    created_at=aware(row.created_at),
                    start=row.start,
                    cursor=row.cursor,
                )
                event = EventRecord(
                    id=row.event_id,
                    kind=row.kind,
                    at=aware(row.at),
                    subject=row.subject,
                    payload=row.payload,
                )
                found.append((delivery, webhook, event))
            return found

    def attempted(
        self,
        delivery_id: int,
        state: DeliveryState,
        at: datetime,
        next_at: datetime,
        error: str | None,
    ) -> None:
        d = schema.webhook_deliveries
        with self.database.engine.begin() as connection:
            connection.execute(
                update(d)
                .where(d.c.id == delivery_id)
                .values(
                    state=state.value,
                    attempts=d.c.attempts + 1,
                    next_at=naive_utc(next_at),
                    last_error=error,
                    delivered_at=naive_utc(at) if state is DeliveryState.DELIVERED else None,
                )
            )

    def deliveries(self, webhook_id: int | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        d = schema.webhook_deliveries
        query = select(d).order_by(d.c.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(d.c.webhook_id == webhook_id)
        with self.database.engine.connect() as connection:
            return [_delivery(row._mapping) for row in connection.execute(query)]


def _webhook(mapping: Any) -> Webhook:
    return Webhook(
        id=mapping["id"],
        url=mapping["url"],
        product=mapping["product"],
        domain=mapping["domain"],
        kinds=list(mapping["kinds"] or []),
        created_by=mapping["created_by"],
        created_at=aware(mapping["created_at"]),
        start=mapping["start"],
        cursor=mapping["cursor"],
    )


def _delivery(mapping: Any) -> Delivery:
    return Delivery(
        id=mapping["id"],
        webhook=mapping["webhook_id"],
        event=mapping["event_id"],
        state=DeliveryState(mapping["state"]),
        attempts=mapping["attempts"],
        next_at=aware(mapping["next_at"]),
        last_error=mapping["last_error"],
        delivered_at=aware(mapping["delivered_at"]) if mapping["delivered_at"] else None,
    )
