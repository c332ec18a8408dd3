"""The catalog's views of the mesh: products described, their service levels, lineage and
search. Read-only: publishing (`quanta.publishing`) is what writes the catalog."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from quanta.model.actor import Actor
from quanta.model.catalog import (
    Downstream,
    InputUse,
    ProductRecord,
    ServiceLevelStatus,
    Version,
)
from quanta.model.usage import ConsumerUsage
from quanta.privacy.retention import retention_lines
from quanta.reading import PublishedPort, ReadPath
from quanta.reading.ports import product_record
from quanta.stores import CatalogStore, Stores

SERVICE_LEVELS = ("freshness ", "completeness ")
"""Checks measuring a service level start with these words; `show` tracks them by day."""


class Lineage(BaseModel):
    product: str
    upstream: list[InputUse]
    downstream: list[Downstream]
    upstream_tree: dict[str, list[InputUse]]
    downstream_tree: dict[str, list[Downstream]]


class ProductView(BaseModel):
    """Everything ``quanta show`` presents about one product."""

    record: ProductRecord
    current: Version
    versions: list[Version]
    downstream: list[Downstream]
    service_levels: list[ServiceLevelStatus] = []
    consumers: list[ConsumerUsage] = []
    """Who read it (products and people), each with its read count and last read."""
    retention: list[str] = []
    """Per output port: its retention as declared, and when it was last enforced."""
    erasures: int = 0
    """Subject erasures that deleted from it or rebuilt it."""


def describe(
    stores: Stores, product_id: str, reads: ReadPath | None = None, actor: Actor | None = None
) -> ProductView:
    """The product as ``actor`` may see it: without values (failing rows' samples, bounds)
    of the columns the read path does not show it."""
    record = product_record(stores.catalog, product_id)
    versions = stores.catalog.versions(record.id)
    if reads is not None and actor is not None:
        versions = [_as_seen(reads, actor, version) for version in versions]
    current = next(v for v in versions if v.version == record.current_version)
    return ProductView(
        record=record,
        current=current,
        versions=versions,
        downstream=stores.catalog.downstream(record.id),
        service_levels=service_levels(stores, record.id),
        consumers=stores.usage.by_consumer(product=record.id),
        retention=retention_lines(current.ports, stores.privacy.retention_runs(done=True)),
        erasures=len(stores.privacy.erasures(product=record.id)),
    )


def service_levels(stores: Stores, product_id: str, days: int = 30) -> list[ServiceLevelStatus]:
    """Each measured service level (freshness, completeness), day by day over the last
    ``days``.

    A day counts as met when every measurement of the level that day passed.
    """
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)  # exactly ``days`` calendar days
    by_level: dict[str, dict[date, bool]] = {}
    for run in stores.checks.check_history(product_id, since):
        for check in run.checks:
            if str(check.get("name", "")).startswith(SERVICE_LEVELS):
                day = run.checked_at.date()
                held = check.get("outcome") == "passed"
                levels = by_level.setdefault(f"{check.get('port')}: {check['name']}", {})
                levels[day] = levels.get(day, True) and held
    return [
        ServiceLevelStatus(
            name=name,
            days_met=sum(per_day.values()),
            days_measured=len(per_day),
            window_days=days,
        )
        for name, per_day in sorted(by_level.items())
    ]


def lineage(store: CatalogStore, product_id: str) -> Lineage:
    record = product_record(store, product_id)
    upstream_tree: dict[str, list[InputUse]] = {}
    downstream_tree: dict[str, list[Downstream]] = {}
    pending = [record.id]
    while pending:
        current = pending.pop()
        if current in upstream_tree:
            continue
        version = store.version(current)
        upstream_tree[current] = version.inputs if version else []
        pending.extend(use.upstream for use in upstream_tree[current] if use.upstream)
    pending = [record.id]
    while pending:
        current = pending.pop()
        if current in downstream_tree:
            continue
        downstream_tree[current] = store.downstream(current)
        pending.extend(edge.product for edge in downstream_tree[current])
    return Lineage(
        product=record.id,
        upstream=upstream_tree[record.id],
        downstream=downstream_tree[record.id],
        upstream_tree=upstream_tree,
        downstream_tree=downstream_tree,
    )


def _as_seen(reads: ReadPath, actor: Actor, version: Version) -> Version:
    checks = version.checks
    ports = []
    for port in version.ports:
        published = PublishedPort(version.product, version.version, port, ())
        checks = reads.redact_checks(actor, published, checks)
        ports.append(reads.redact_stats(actor, published))
    return version.model_copy(update={"checks": checks, "ports": ports})
