"""Access requests and grants on SQLAlchemy: one row a request, its every change told in
the event history in the same transaction (who, when, what), so nothing is lost."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from quanta.model.access import AccessRequest, RequestState
from quanta.model.actor import ActorKind
from quanta.stores import schema
from quanta.stores.audit import SqlAuditStore
from quanta.stores.database import Database, aware, naive_utc
from quanta.stores.events import SqlEventStore

_TABLE = schema.access_requests


DECISIONS = ("access.approved", "access.denied", "access.revoked", "access.expired")
"""What the audit log keeps of access, in the same transaction as the change."""


class SqlAccessStore:
    def __init__(
        self, database: Database, events: SqlEventStore, audit: SqlAuditStore | None = None
    ) -> None:
        self.database = database
        self.history = events
        self.audit = audit

    def add(self, request: AccessRequest) -> AccessRequest:
        """Keep a new request (its ``id`` is given here) and tell it."""
        with self.database.engine.begin() as connection:
            values = _values(request)
            values.pop("id")
            new_id = connection.execute(insert(_TABLE).values(**values)).inserted_primary_key
            assert new_id is not None
            kept = request.model_copy(update={"id": int(new_id[0])})
            self._tell(connection, "access.requested", kept.requested_at, kept, kept.requested_by)
            if kept.state == RequestState.APPROVED:  # approved by one of the product's rules
                self._tell(connection, "access.approved", kept.requested_at, kept, kept.decided_by)
            return kept

    def request(self, request_id: int) -> AccessRequest | None:
        with self.database.engine.connect() as connection:
            row = connection.execute(select(_TABLE).where(_TABLE.c.id == request_id)).first()
        return None if row is None else _request(row)

    def decide(
        self,
        request_id: int,
        state: RequestState,
        by: str,
        note: str | None,
        at: datetime,
        expires_at: datetime | None,
        *,
        clear_pii: bool = False,
    ) -> AccessRequest | None:
        """Approve or deny a pending request (``clear_pii``: approved for PII in clear too);
        None when it is no longer pending (decided meanwhile by someone else: no request
        is decided twice)."""
        values: dict[str, Any] = {
            "state": state.value,
            "decided_by": by,
            "decided_at": naive_utc(at),
            "note": note,
            "clear_pii": clear_pii,
        }
        if expires_at is not None:
            values["expires_at"] = naive_utc(expires_at)
        return self._change(request_id, RequestState.PENDING, values, f"access.{state.value}", by)

    def revoke(
        self, request_id: int, by: str, note: str | None, at: datetime
    ) -> AccessRequest | None:
        """End a grant; None when it is not an approved one."""
        values = {"state": RequestState.REVOKED.value, "closed_by": by, "closed_at": naive_utc(at)}
        if note:
            values["note"] = note
        return self._change(request_id, RequestState.APPROVED, values, "access.revoked", by)

    def expire(self, now: datetime) -> list[AccessRequest]:
        """Mark every grant past its end as expired, each told once."""
        with self.database.engine.begin() as connection:
            rows = connection.execute(
                select(_TABLE.c.id).where(
                    _TABLE.c.state == RequestState.APPROVED.value,
                    _TABLE.c.expires_at <= naive_utc(now),
                )
            ).all()
        expired = []
        for row in rows:
            values: dict[str, Any] = {
                "state": RequestState.EXPIRED.value,
                "closed_by": "expiry",
                "closed_at": naive_utc(now),
            }
            done = self._change(int(row.id), RequestState.APPROVED, values, "access.expired", "")
            if done is not None:
                expired.append(done)
        return expired

    def dev_build(self, product: str) -> tuple[str, list[str]] | None:
        """The team (and its members) that built ``product``'s dev branch last."""
        table = schema.dev_builds
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(table.c.team, table.c.members).where(table.c.product_id == product)
            ).first()
        return None if row is None else (str(row.team), [str(m) for m in row.members])

    def record_dev_build(
        self, product: str, team: str, members: list[str], by: str, at: datetime
    ) -> None:
        table = schema.dev_builds
        values = {"team": team, "members": members, "built_by": by, "built_at": naive_utc(at)}
        with self.database.engine.begin() as connection:
            changed = connection.execute(
                update(table).where(table.c.product_id == product).values(**values)
            )
            if changed.rowcount == 0:
                connection.execute(insert(table).values(product_id=product, **values))

    def requests(
        self,
        *,
        product: str | None = None,
        consumer: str | None = None,
        states: Collection[RequestState] = (),
    ) -> list[AccessRequest]:
        query = select(_TABLE).order_by(_TABLE.c.id)
        if product is not None:
            query = query.where(_TABLE.c.product_id == product)
        if consumer is not None:
            query = query.where(_TABLE.c.consumer == consumer)
        if states:
            query = query.where(_TABLE.c.state.in_([state.value for state in states]))
        with self.database.engine.connect() as connection:
            return [_request(row) for row in connection.execute(query)]

    def _change(
        self,
        request_id: int,
        was: RequestState,
        values: dict[str, Any],
        kind: str,
        by: str | None,
    ) -> AccessRequest | None:
        with self.database.engine.begin() as connection:
            changed = connection.execute(
                update(_TABLE)
                .where(_TABLE.c.id == request_id, _TABLE.c.state == was.value)
                .values(**values)
            )
            if changed.rowcount != 1:
                return None
            row = connection.execute(select(_TABLE).where(_TABLE.c.id == request_id)).one()
            request = _request(row)
            at = request.closed_at or request.decided_at or request.requested_at
            self._tell(connection, kind, at, request, by)
            return request

    def _tell(
        self,
        connection: Connection,
        kind: str,
        at: datetime,
        request: AccessRequest,
        by: str | None,
    ) -> None:
        payload = {
            "request": request.id,
            "port": request.port,
            "consumer": request.consumer,
            "consumer_kind": request.consumer_kind.value,
            "by": by or "",
            "purpose": request.purpose,
            "days": request.days,
            "columns": request.columns,
            "note": request.note,
            "expires_at": request.expires_at.isoformat() if request.expires_at else None,
        }
        self.history.write(connection, kind, at, request.product, payload)
        if self.audit is not None and kind in DECISIONS:
            decided = {
                "request": request.id,
                "product": request.product,
                "port": request.port,
                "consumer": request.consumer,
                "clear_pii": request.clear_pii,
                "expires_at": payload["expires_at"],
            }
            self.audit.write(connection, kind, by or "quanta", f"request {request.id}", decided)


def _values(request: AccessRequest) -> dict[str, Any]:
    def moment(value: datetime | None) -> datetime | None:
        return None if value is None else naive_utc(value)

    return {
        "id": request.id,
        "product_id": request.product,
        "port": request.port,
        "consumer": request.consumer,
        "consumer_kind": request.consumer_kind.value,
        "requested_by": request.requested_by,
        "purpose": request.purpose,
        "days": request.days,
        "columns": request.columns,
        "without_private": request.without_private,
        "pii_reason": request.pii_reason,
        "clear_pii": request.clear_pii,
        "state": request.state.value,
        "requested_at": naive_utc(request.requested_at),
        "decided_by": request.decided_by,
        "decided_at": moment(request.decided_at),
        "note": request.note,
        "expires_at": moment(request.expires_at),
        "closed_by": request.closed_by,
        "closed_at": moment(request.closed_at),
    }


def _request(row: Row[Any]) -> AccessRequest:
    def moment(value: datetime | None) -> datetime | None:
        return None if value is None else aware(value)

    return AccessRequest(
        id=row.id,
        product=row.product_id,
        port=row.port,
        consumer=row.consumer,
        consumer_kind=ActorKind(row.consumer_kind),
        requested_by=row.requested_by,
        purpose=row.purpose,
        days=row.days,
        columns=row.columns,
        without_private=bool(row.without_private),
        pii_reason=row.pii_reason,
        clear_pii=bool(row.clear_pii),
        state=RequestState(row.state),
        requested_at=aware(row.requested_at),
        decided_by=row.decided_by,
        decided_at=moment(row.decided_at),
        note=row.note,
        expires_at=moment(row.expires_at),
        closed_by=row.closed_by,
        closed_at=moment(row.closed_at),
    )
