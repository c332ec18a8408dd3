"""Subject erasures on SQLAlchemy: one row each, saved as the erasure goes on."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select, update

from quanta.model.privacy import Erasure, ErasureReceipt, ErasureState, RetentionRun
from quanta.stores import schema
from quanta.stores.database import Database, aware, naive_utc

_TABLE = schema.erasures


class SqlPrivacyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, erasure: Erasure, sealed: bytes) -> None:
        with self.database.engine.begin() as connection:
            connection.execute(insert(_TABLE).values(**_row(erasure), sealed=sealed))

    def erasure(self, erasure_id: str) -> Erasure | None:
        with self.database.engine.connect() as connection:
            row = connection.execute(select(_TABLE).where(_TABLE.c.id == erasure_id)).first()
        return None if row is None else _erasure(row._mapping)

    def sealed(self, erasure_id: str) -> bytes | None:
        with self.database.engine.connect() as connection:
            found = connection.execute(
                select(_TABLE.c.sealed).where(_TABLE.c.id == erasure_id)
            ).scalar()
        return None if found is None else bytes(found)

    def erasures(
        self, *, product: str | None = None, states: Collection[ErasureState] = ()
    ) -> list[Erasure]:
        query = select(_TABLE).order_by(_TABLE.c.requested_at, _TABLE.c.id)
        if states:
            query = query.where(_TABLE.c.state.in_([state.value for state in states]))
        with self.database.engine.connect() as connection:
            found = [_erasure(row._mapping) for row in connection.execute(query)]
        if product is not None:
            found = [erasure for erasure in found if product in erasure.products]
        return found

    def save(self, erasure: Erasure, *, forget: bool = False) -> None:
        values = _row(erasure)
        values.pop("id")
        if forget:
            values["sealed"] = None
        with self.database.engine.begin() as connection:
            connection.execute(update(_TABLE).where(_TABLE.c.id == erasure.id).values(**values))

    def save_retention(self, run: RetentionRun) -> None:
        runs = schema.retention_runs
        values = {
            "at": naive_utc(run.at),
            "by": run.by,
            "product": run.product,
            "done": run.done,
            "run": run.model_dump(mode="json"),
        }
        with self.database.engine.begin() as connection:
            exists = connection.execute(select(runs.c.id).where(runs.c.id == run.id)).first()
            if exists:
                connection.execute(update(runs).where(runs.c.id == run.id).values(**values))
            else:
                connection.execute(insert(runs).values(id=run.id, **values))

    def retention_runs(self, *, done: bool | None = None) -> list[RetentionRun]:
        runs = schema.retention_runs
        query = select(runs.c.run).order_by(runs.c.at, runs.c.id)
        if done is not None:
            query = query.where(runs.c.done == done)
        with self.database.engine.connect() as connection:
            return [RetentionRun.model_validate(row[0]) for row in connection.execute(query)]


def _row(erasure: Erasure) -> dict[str, Any]:
    return {
        "id": erasure.id,
        "concept": erasure.concept,
        "identifier": erasure.identifier,
        "subject": erasure.subject,
        "reason": erasure.reason,
        "requested_by": erasure.requested_by,
        "requested_at": naive_utc(erasure.requested_at),
        "state": erasure.state.value,
        "progress": erasure.progress,
        "products": sorted(erasure.products),
        "receipt": None if erasure.receipt is None else erasure.receipt.model_dump(mode="json"),
        "finished_at": None if erasure.finished_at is None else naive_utc(erasure.finished_at),
    }


def _erasure(row: Any) -> Erasure:
    receipt = row["receipt"]
    if receipt is not None:
        receipt = dict(receipt)
        receipt.pop("hash", None)  # computed again from the rest: a changed receipt shows
    return Erasure(
        id=row["id"],
        concept=row["concept"],
        identifier=row["identifier"],
        subject=row["subject"],
        reason=row["reason"],
        requested_by=row["requested_by"],
        requested_at=aware(row["requested_at"]),
        state=ErasureState(row["state"]),
        progress=row["progress"] or {},
        products=list(row["products"] or []),
        receipt=None if receipt is None else ErasureReceipt.model_validate(receipt),
        finished_at=None if row["finished_at"] is None else aware(row["finished_at"]),
    )
