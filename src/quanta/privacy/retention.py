"""Retention, enforced: rows older than each product's declared retention leave every
version still readable, and the files that held them leave the disk.

A contract declares retention as an ODCS service level, with the time column that dates a
row as its ``element``::

    slaProperties:
      - {property: retention, value: 13, unit: m, element: sessions.started_at}

``quanta governance enforce-retention [PRODUCT]`` deletes, table by table, the rows whose
time column is older than now minus that retention, from the served snapshot and from
every older version (`quanta.privacy.rewrite`), then expires the old snapshots and removes
the files no snapshot references. The run is saved as it goes on: the next run finishes
one a kill stopped before it starts its own. Its evidence (per product and version the
rows removed, files rewritten, the verification query and its result) is returned and
sealed into the audit log.
"""

from __future__ import annotations

import calendar
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from quanta.errors import AccessDenied, UserError
from quanta.model.actor import Actor, ActorKind
from quanta.model.catalog import PortVersion
from quanta.model.contract import PRIVATE, Contract
from quanta.model.privacy import PortRetained, RetentionRun, RetentionSkipped
from quanta.privacy.rewrite import rewrite_table, table_name
from quanta.storage import RowsBefore

if TYPE_CHECKING:
    from quanta.context import MeshContext

_UNITS = {
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "m": "months",
    "month": "months",
    "months": "months",
    "y": "years",
    "year": "years",
    "years": "years",
}
_ISO = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?", re.IGNORECASE)
_JOB = "retention-"


def enforce_retention(
    context: MeshContext, actor: Actor, product: str | None, *, now: datetime | None = None
) -> RetentionRun:
    """Enforce retention on ``product`` (every product when None); the run's evidence."""
    catalog = context.stores.catalog
    if product is not None and catalog.product(product) is None:
        raise UserError(f"{product} is not published: see quanta list")
    _may_enforce(context, actor, product)
    from quanta.locking import maintenance

    store = context.stores.privacy
    with maintenance(context.settings.home):
        for unfinished in store.retention_runs(done=False):
            _carry_out(context, unfinished)
        run = RetentionRun(
            id=uuid.uuid4().hex[:16],
            at=(now or datetime.now(UTC)).astimezone(UTC),
            by=actor.name,
            product=product,
        )
        store.save_retention(run)
        return _carry_out(context, run)


def _may_enforce(context: MeshContext, actor: Actor, product: str | None) -> None:
    directory = context.access.directory
    if actor.kind == ActorKind.USER and actor.name in directory.governance():
        return
    if product is not None and context.access.owns(actor, product):
        return
    raise AccessDenied(
        f"{actor.name} may not enforce retention "
        + ("on the whole mesh" if product is None else f"on {product}")
        + ": the governance group may on every product, a product's owners on theirs"
    )


def _carry_out(context: MeshContext, run: RetentionRun) -> RetentionRun:
    store = context.stores.privacy
    tables: dict[str, Any] = run.progress.setdefault("tables", {})

    def save() -> None:
        store.save_retention(run)

    plans, skipped = _plans(context, run)
    run.skipped = skipped
    run.ports, run.swept = [], []
    job = f"{_JOB}{run.id}"
    for table, (where, limit, private) in sorted(plans.items()):
        try:
            results, swept = rewrite_table(
                context,
                table_name(table),
                where,
                job,
                tables.setdefault(table, {}),
                save,
                private=private,
            )
        except ValueError as error:  # pyiceberg refusing the filter: this table only
            product = next((p for p, _, _ in context.stores.catalog.table_ports(table)), table)
            port = table.rpartition("__")[0].rpartition("__")[2] or table
            reason = f"its rows could not be filtered by {where.column} ({error})"
            run.skipped.append(RetentionSkipped(product=product, port=port, reason=reason))
            continue
        run.ports.extend(
            PortRetained(
                **result.model_dump(),
                column=where.column,
                limit=limit,
                cutoff=_as_datetime(where.cutoff),
            )
            for result in results
        )
        if swept is not None:
            run.swept.append(swept)
    run.done = True
    run.finished_at = datetime.now(UTC)
    save()
    context.governance.audit.record(
        "retention.enforced",
        Actor(name=run.by),
        f"retention {run.id}",
        {
            "product": run.product,
            "rows": run.rows_removed,
            "ports": [
                {
                    "product": p.product,
                    "version": p.version,
                    "port": p.port,
                    "rows": p.rows_removed,
                    "remaining": p.remaining,
                }
                for p in run.ports
                if p.rows_removed
            ],
            "skipped": len(run.skipped),
        },
    )
    return run


def _plans(
    context: MeshContext, run: RetentionRun
) -> tuple[dict[str, tuple[RowsBefore, str, tuple[str, ...]]], list[RetentionSkipped]]:
    """Per table: the rows to delete, the retention as declared, its private columns; and
    the ports whose retention cannot be enforced, with why."""
    catalog = context.stores.catalog
    plans: dict[str, tuple[RowsBefore, str, tuple[str, ...]]] = {}
    skipped = []
    records = [r for r in catalog.products() if run.product in (None, r.id)]
    for record in records:
        # Each table as its newest version declares it: an older major still served has
        # its own table, and its own newest version.
        newest: dict[str, PortVersion] = {}
        for version in catalog.versions(record.id):
            for port in version.ports:
                newest[port.table] = port
        for table, port in sorted(newest.items()):
            planned = _plan(port, run.at)
            if isinstance(planned, str):
                skipped.append(RetentionSkipped(product=record.id, port=port.port, reason=planned))
                continue
            private = tuple(
                sorted(c.name for c in port.columns if (c.classification or "") in PRIVATE)
            )
            plans[table] = (*planned, private)
    return plans, skipped


def _plan(port: PortVersion, now: datetime) -> tuple[RowsBefore, str] | str:
    """The rows of ``port`` past its retention at ``now``, and the retention as declared;
    or why there are none to find."""
    try:
        contract = Contract.model_validate(port.contract)
    except ValueError:
        return "its contract cannot be read"
    return retention_plan(contract, now)


def retention_plan(contract: Contract, now: datetime) -> tuple[RowsBefore, str] | str:
    """The rows past the contract's retention at ``now``, and the retention as declared;
    or why a run cannot enforce it (what the `retention` policy reads)."""
    level = contract.service_level("retention")
    if level is None:
        return "its contract declares no retention"
    if not level.element:
        return (
            "its retention names no time column: add element: <table>.<column> to the "
            "retention service level"
        )
    column_name = level.element.rpartition(".")[2]
    column = next((c for c in contract.columns if c.name == column_name), None)
    if column is None:
        return f"its retention's time column {column_name!r} is not one of its columns"
    period = _period(level.value, level.unit)
    if period is None:
        return (
            f"its retention {level.value!r} {level.unit or ''} is not a period: write a "
            "number and a unit (d, w, m, y) or an ISO 8601 period such as P13M"
        )
    amount, unit = period
    try:
        cutoff = _minus(now, amount, unit)
    except (OverflowError, ValueError):
        return f"its retention of {amount} {unit} reaches before the calendar begins"
    stated = column.physical_type or column.logical_type or ""
    kind = " ".join(stated.upper().split())
    if kind == "DATE":
        typed: datetime | date = cutoff.date()
    elif kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        typed = cutoff
    elif kind in ("TIMESTAMP", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE") or (
        kind.startswith("TIMESTAMP(") and "TIME ZONE" not in kind
    ):
        typed = cutoff.astimezone(UTC).replace(tzinfo=None)
    else:
        stored = stated or "a type its contract does not state (write its physicalType)"
        return f"its retention's time column {column_name!r} holds {stored}, not a date or a time"
    return RowsBefore(column_name, typed), f"{amount} {unit}"


def _period(value: Any, unit: str | None) -> tuple[int, str] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value > 0 and float(value).is_integer():
        name = _UNITS.get(str(unit or "d").lower())
        return None if name is None else (int(value), name)
    if isinstance(value, str):
        found = _ISO.fullmatch(value.strip())
        if found and any(found.groups()):
            parts = [int(part or 0) for part in found.groups()]
            if sum(1 for part in parts if part) == 1:
                index = next(i for i, part in enumerate(parts) if part)
                return parts[index], ("years", "months", "weeks", "days")[index]
    return None


def _minus(moment: datetime, amount: int, unit: str) -> datetime:
    if unit == "days":
        return moment - timedelta(days=amount)
    if unit == "weeks":
        return moment - timedelta(weeks=amount)
    months = amount * (12 if unit == "years" else 1)
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _as_datetime(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def retention_lines(ports: list[PortVersion], runs: list[RetentionRun]) -> list[str]:
    """What ``quanta show`` says of each port's retention: as declared, by which column,
    and when a run last enforced it."""
    lines = []
    for port in ports:
        planned = _plan(port, datetime.now(UTC))
        if isinstance(planned, str):
            lines.append(f"{port.port}: not enforced, {planned}")
            continue
        where, limit = planned
        line = f"{port.port}: {limit}, by {where.column}"
        last = next(
            (
                run
                for run in reversed(runs)
                if run.done and any(p.table == port.table for p in run.ports)
            ),
            None,
        )
        if last is not None and last.finished_at is not None:
            removed = sum(p.rows_removed for p in last.ports if p.table == port.table)
            line += (
                f"; last enforced {last.finished_at:%Y-%m-%d %H:%M} UTC ({removed} rows removed)"
            )
        else:
            line += "; not enforced yet"
        lines.append(line)
    return lines
