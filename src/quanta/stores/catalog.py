"""The catalog on SQLAlchemy: products, their versions, output ports and inputs.

A publish is the catalog's one write, and one transaction: the version, its ports and inputs,
the product's served version, its searchable text and the run of its checks all commit
together or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from quanta.model.catalog import (
    CheckRecord,
    Downstream,
    InputUse,
    PortMoved,
    PortVersion,
    ProductRecord,
    SearchHit,
    Version,
)
from quanta.model.contract import PRIVATE
from quanta.model.expectations import Expectation
from quanta.model.lifecycle import LifecycleEntry
from quanta.stores import schema
from quanta.stores.checks import SqlCheckStore
from quanta.stores.database import Database, aware, naive_utc
from quanta.stores.expectations import SqlExpectationStore
from quanta.stores.lifecycle import SqlLifecycleStore
from quanta.stores.search import index_for_search, search

# A port's fields stored as they are; the others are renamed or serialized on the way in.
_PORT_FIELDS = {
    "port",
    "contract_version",
    "snapshot_id",
    "metadata_location",
    "location",
    "rows",
    "bytes",
    "description",
    "contract",
    "mapped",
}


class SqlCatalogStore:
    def __init__(
        self,
        database: Database,
        checks: SqlCheckStore,
        lifecycle: SqlLifecycleStore,
        expectations: SqlExpectationStore,
    ) -> None:
        self.database = database
        # The publish's check run, deprecations and expectations are written through
        # these, on the publish's own connection.
        self.checks = checks
        self.lifecycle = lifecycle
        self.expectations = expectations

    # -- reads ---------------------------------------------------------------------------
    def product(self, product_id: str) -> ProductRecord | None:
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(schema.products).where(schema.products.c.id == product_id)
            ).first()
        return None if row is None else _product(row._mapping)

    def products(self) -> list[ProductRecord]:
        with self.database.engine.connect() as connection:
            rows = connection.execute(select(schema.products).order_by(schema.products.c.id))
            return [_product(row._mapping) for row in rows]

    def version(self, product_id: str, version: int | None = None) -> Version | None:
        with self.database.engine.connect() as connection:
            if version is None:
                version = connection.execute(
                    select(schema.products.c.current_version).where(
                        schema.products.c.id == product_id
                    )
                ).scalar()
                if version is None:
                    return None
            found = _versions(connection, product_id, [version])
        return found[0] if found else None

    def versions(self, product_id: str) -> list[Version]:
        with self.database.engine.connect() as connection:
            numbers: list[int] = list(
                connection.execute(
                    select(schema.versions.c.version)
                    .where(schema.versions.c.product_id == product_id)
                    .order_by(schema.versions.c.version)
                ).scalars()
            )
            return _versions(connection, product_id, numbers)

    def latest_with_major(self, product_id: str, port: str, major: int) -> Version | None:
        with self.database.engine.connect() as connection:
            number = connection.execute(
                select(func.max(schema.ports.c.version)).where(
                    schema.ports.c.product_id == product_id,
                    schema.ports.c.port == port,
                    schema.ports.c.major == major,
                )
            ).scalar()
            if number is None:
                return None
            found = _versions(connection, product_id, [number])
        return found[0] if found else None

    def downstream(self, product_id: str) -> list[Downstream]:
        p, i = schema.products, schema.inputs
        query = (
            select(i.c.product_id, i.c.port, i.c.upstream_port, i.c.upstream_version)
            .join(p, (p.c.id == i.c.product_id) & (p.c.current_version == i.c.version))
            .where(i.c.upstream == product_id)
            .order_by(i.c.product_id, i.c.port)
        )
        with self.database.engine.connect() as connection:
            return [
                Downstream(
                    product=row[0], port=row[1], upstream_port=row[2], upstream_version=row[3]
                )
                for row in connection.execute(query)
            ]

    def table_users(self, table: str) -> list[tuple[str, str]]:
        o = schema.ports
        query = (
            select(o.c.product_id, o.c.port)
            .where(o.c.table_name == table)
            .distinct()
            .order_by(o.c.product_id, o.c.port)
        )
        with self.database.engine.connect() as connection:
            return [(row[0], row[1]) for row in connection.execute(query)]

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        with self.database.engine.connect() as connection:
            return search(connection, text, limit)

    # -- the one write ---------------------------------------------------------------------
    def publish(
        self,
        record: ProductRecord,
        version: Version,
        deprecations: Sequence[LifecycleEntry] = (),
        told: dict[str, Any] | None = None,
        expectations: Sequence[Expectation] = (),
    ) -> int:
        now = naive_utc(datetime.now(UTC))
        with self.database.engine.begin() as connection:
            number = (
                connection.execute(
                    select(func.max(schema.versions.c.version)).where(
                        schema.versions.c.product_id == record.id
                    )
                ).scalar()
                or 0
            ) + 1
            connection.execute(
                insert(schema.versions).values(
                    product_id=record.id,
                    version=number,
                    published_at=naive_utc(version.published_at),
                    seconds=version.seconds,
                    checks=version.checks,
                    code=version.code,
                )
            )
            for port in version.ports:
                connection.execute(
                    insert(schema.ports).values(
                        product_id=record.id,
                        version=number,
                        major=port.major,
                        table_name=port.table,
                        **port.model_dump(include=_PORT_FIELDS),
                        columns=[column.model_dump() for column in port.columns],
                        files=port.files,
                        stats=port.stats.model_dump() if port.stats else None,
                    )
                )
                _forget_private_bounds(connection, record.id, port)
            for used in version.inputs:
                connection.execute(
                    insert(schema.inputs).values(
                        product_id=record.id, version=number, **used.model_dump()
                    )
                )
            _serve(connection, record, number, now)
            index_for_search(connection, record, version)
            if told is not None:  # before what it leads to: the log reads in order
                payload = {**told, "version": number}
                self.lifecycle.history.write(
                    connection, "product.published", version.published_at, record.id, payload
                )
            for entry in deprecations:
                self.lifecycle.write(connection, entry)
            for expectation in expectations:
                self.expectations.write(connection, expectation)
            if version.checks:
                self.checks.write(
                    connection,
                    CheckRecord(
                        product=record.id,
                        version=number,
                        checked_at=version.published_at,
                        trigger="publish",
                        outcome=version.outcome,
                        checks=version.checks,
                    ),
                )
        return number

    # -- maintenance: retention and erasure ------------------------------------------------
    def table_ports(self, table: str) -> list[tuple[str, int, PortVersion]]:
        o = schema.ports
        query = (
            select(o.c.product_id, o.c.version)
            .where(o.c.table_name == table)
            .order_by(o.c.product_id, o.c.version)
        )
        found: list[tuple[str, int, PortVersion]] = []
        with self.database.engine.connect() as connection:
            pairs = connection.execute(query).all()
            for product_id in sorted({row[0] for row in pairs}):
                numbers = [row[1] for row in pairs if row[0] == product_id]
                for version in _versions(connection, product_id, numbers):
                    found.extend(
                        (product_id, version.version, port)
                        for port in version.ports
                        if port.table == table
                    )
        return found

    def move_ports(self, table: str, metadata_location: str, moved: Sequence[PortMoved]) -> int:
        ports = schema.ports
        changed = 0
        with self.database.engine.begin() as connection:
            connection.execute(
                update(ports)
                .where(ports.c.table_name == table)
                .values(metadata_location=metadata_location)
            )
            for port in moved:
                result = connection.execute(
                    update(ports)
                    .where(
                        (ports.c.product_id == port.product)
                        & (ports.c.version == port.version)
                        & (ports.c.port == port.port)
                        & (ports.c.table_name == table)
                        & (ports.c.snapshot_id == port.before)
                    )
                    .values(
                        snapshot_id=port.snapshot_id,
                        rows=port.rows,
                        bytes=port.bytes,
                        files=port.files,
                        stats=port.stats.model_dump() if port.stats else None,
                    )
                )
                changed += result.rowcount
        return changed

    def scrub_samples(self, values: Collection[str]) -> int:
        wanted = set(values)
        removed = 0
        with self.database.engine.begin() as connection:
            for table, key in (
                (schema.versions, (schema.versions.c.product_id, schema.versions.c.version)),
                (schema.check_runs, (schema.check_runs.c.id,)),
            ):
                for row in connection.execute(select(*key, table.c.checks)).all():
                    checks, dropped = _scrubbed(row[-1], wanted)
                    if dropped:
                        removed += dropped
                        where = [column == row[index] for index, column in enumerate(key)]
                        connection.execute(update(table).where(*where).values(checks=checks))
        return removed


def _scrubbed(checks: Any, values: set[str]) -> tuple[Any, int]:
    """``checks`` without the sample rows, observed values and reasons holding any of
    ``values``; how many went."""
    if not isinstance(checks, list):
        return checks, 0
    dropped = 0
    kept_checks = []
    for check in checks:
        if isinstance(check, dict):
            # A rule's observed value, and the reason quoting it, may be one of them too.
            if check.get("observed") is not None and str(check["observed"]) in values:
                check = {**check, "observed": None}
                dropped += 1
            reason = check.get("reason")
            if isinstance(reason, str) and any(v in reason for v in values if len(v) >= 4):
                check = {**check, "reason": "its observed value was erased"}
                dropped += 1
        samples = check.get("samples") if isinstance(check, dict) else None
        if isinstance(samples, list):
            kept = [
                row
                for row in samples
                if not (isinstance(row, dict) and any(str(v) in values for v in row.values()))
            ]
            if len(kept) != len(samples):
                dropped += len(samples) - len(kept)
                check = {**check, "samples": kept}
        kept_checks.append(check)
    return kept_checks, dropped


def _serve(connection: Connection, record: ProductRecord, number: int, now: datetime) -> None:
    """Make version ``number`` the served one, with the product's description of that version."""
    values = record.model_dump(exclude={"current_version", "updated_at", "id"})
    values.update(current_version=number, updated_at=now)
    products = schema.products
    exists = connection.execute(select(products.c.id).where(products.c.id == record.id)).first()
    if exists:
        connection.execute(update(products).where(products.c.id == record.id).values(values))
    else:
        connection.execute(insert(products).values(id=record.id, created_at=now, **values))


def _forget_private_bounds(connection: Connection, product_id: str, port: PortVersion) -> None:
    """Drop, from the port's earlier versions, the bounds of columns now classified private.

    An earlier version kept them while the column was not private yet: the same column's
    values, which the catalog must not keep once it is.
    """
    private = {
        column.name for column in port.columns if (column.classification or "").lower() in PRIVATE
    }
    if not private:
        return
    ports = schema.ports
    rows = connection.execute(
        select(ports.c.version, ports.c.stats).where(
            (ports.c.product_id == product_id) & (ports.c.port == port.port)
        )
    ).fetchall()
    for number, stored in rows:
        stats: dict[str, Any] = stored if isinstance(stored, dict) else {}
        columns: dict[str, Any] = stats.get("columns") or {}
        changed = False
        for name in private & set(columns):
            if columns[name].get("lower") is not None or columns[name].get("upper") is not None:
                columns[name]["lower"] = columns[name]["upper"] = None
                changed = True
        if changed:
            connection.execute(
                update(ports)
                .where(
                    (ports.c.product_id == product_id)
                    & (ports.c.version == number)
                    & (ports.c.port == port.port)
                )
                .values(stats=stats)
            )


def _versions(connection: Connection, product_id: str, numbers: list[int]) -> list[Version]:
    if not numbers:
        return []
    v, p, i = schema.versions, schema.ports, schema.inputs
    rows = connection.execute(
        select(v)
        .where(v.c.product_id == product_id, v.c.version.in_(numbers))
        .order_by(v.c.version)
    ).all()
    port_rows = connection.execute(
        select(p).where(p.c.product_id == product_id, p.c.version.in_(numbers)).order_by(p.c.port)
    ).all()
    input_rows = connection.execute(
        select(i).where(i.c.product_id == product_id, i.c.version.in_(numbers)).order_by(i.c.port)
    ).all()
    return [
        Version(
            product=product_id,
            version=row.version,
            published_at=aware(row.published_at),
            seconds=row.seconds,
            checks=row.checks,
            code=row.code,
            ports=[
                PortVersion(table=r.table_name, **_without(r._mapping, "table_name"))
                for r in port_rows
                if r.version == row.version
            ],
            inputs=[
                InputUse(**_without(r._mapping, "product_id", "version"))
                for r in input_rows
                if r.version == row.version
            ],
        )
        for row in rows
    ]


def _without(mapping: Any, *names: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in names}


def _product(row: Any) -> ProductRecord:
    values = _without(row, "created_at")
    values["updated_at"] = aware(values["updated_at"])
    return ProductRecord(**values)
