"""The baseline of the privacy benchmark: the same deletions done with pyiceberg alone.

On the Iceberg tables of a mesh home (``home/warehouse``, the SqlCatalog ``quanta`` in
``home/warehouse/iceberg.db``), without Quanta, for each table:

1. for each snapshot a tag points to: a branch at that snapshot, ``table.delete(filter)``
   on the branch (pyiceberg's copy-on-write delete), every ref that pointed to the old
   snapshot (the tag, and ``main``) moved to the branch's new snapshot, the branch dropped;
2. ``maintenance.expire_snapshots()`` of the snapshots no ref points to any more;
3. every file under the table's folder that no kept snapshot references (its current
   metadata file, manifest lists, manifests and live data files) deleted.

The filter is what an erasure or a retention run deletes: the subject's identifiers (found
beforehand with `subject_identifiers`, by DuckDB over the tables' files, outside any
timing) in the columns of the tables holding them, or ``time column < cutoff``. The
baseline rebuilds nothing downstream, checks nothing and keeps no record.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import BooleanExpression, In, LessThan, Or
from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType

SUBJECT_CONCEPT = "customer"
# The tables holding an identifier of the subject, with the columns holding each: as the
# example's contracts declare them (the identifier's name is the column's, everywhere).
ERASURE_COLUMNS = {
    "checkout.orders__orders__v1": ("customer_id",),
    "customer.identity_map__accounts__v1": ("customer_id", "user_id"),
    "customer.identity_map__sessions__v1": ("customer_id", "session_id", "user_id"),
    "customer.profiles__profiles__v1": ("customer_id", "email"),
    "web.sessions__sessions__v1": ("session_id", "user_id"),
}
# The mapping ports (dataproduct.yaml, property mappings): each row links its identifiers.
MAPPINGS = {
    "customer.identity_map__accounts__v1": ("customer_id", "user_id"),
    "customer.identity_map__sessions__v1": ("session_id", "customer_id", "user_id"),
    "customer.profiles__profiles__v1": ("customer_id", "email"),
}
# The identifier types (concept.identifier, as Quanta's erasure counts them) of each column.
IDENTIFIER_TYPES = {
    "customer_id": "customer.customer_id",
    "user_id": "customer.user_id",
    "email": "customer.email",
    "session_id": "session.session_id",
}
# Retention as the contracts declare it (slaProperties retention, element): the time column
# and the period in months, for each table that names a time column.
RETENTION = {
    "checkout.orders__orders__v1": ("ordered_at", 36),
    "marketing.attribution__attribution__v1": ("day", 36),
    "sales.daily_revenue__daily_revenue__v1": ("day", 120),
    "web.sessions__sessions__v1": ("started_at", 13),
}
DATE_COLUMNS = {"day"}


def open_catalog(home: Path) -> SqlCatalog:
    warehouse = home / "warehouse"
    return SqlCatalog(
        "quanta", uri=f"sqlite:///{warehouse / 'iceberg.db'}", warehouse=warehouse.as_uri()
    )


def local(uri: str) -> str:
    return uri.removeprefix("file://")


def live_files(table: Table, snapshot_id: int) -> list[str]:
    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return []
    return [
        local(entry.data_file.file_path)
        for manifest in snapshot.manifests(table.io)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    ]


def tagged(table: Table) -> list[int]:
    refs = table.metadata.refs.values()
    return sorted({r.snapshot_id for r in refs if r.snapshot_ref_type == SnapshotRefType.TAG})


def rows_of(table: Table) -> int:
    """The rows of the snapshot the newest tag points to (the served version)."""
    snapshots = tagged(table)
    snapshot = table.snapshot_by_id(snapshots[-1]) if snapshots else table.current_snapshot()
    summary = snapshot.summary if snapshot is not None else None
    return int(summary.get("total-records", 0)) if summary else 0


def table_rows(home: Path) -> dict[str, int]:
    """Every table's rows, at its newest tagged snapshot."""
    catalog = open_catalog(home)
    found = {}
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            found[".".join(identifier)] = rows_of(catalog.load_table(identifier))
    return dict(sorted(found.items()))


# -- finding the subject's identifiers (outside any timing) ----------------------------------
def _files_sql(files: Iterable[str]) -> str:
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in sorted(set(files)))
    return f"read_parquet([{listed}])"


def _in_sql(column: str, values: Iterable[str]) -> str:
    listed = ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(values))
    return f'"{column}" IN ({listed})'


def subject_identifiers(home: Path, customer_id: str) -> dict[str, list[str]]:
    """The subject's identifiers, column by column: ``customer_id``, and what the mapping
    tables link it to in any tagged snapshot, until nothing new turns up (DuckDB over the
    snapshots' Parquet files)."""
    catalog = open_catalog(home)
    files = {}
    for name in MAPPINGS:
        table = catalog.load_table(name)
        files[name] = [path for sid in tagged(table) for path in live_files(table, sid)]
    found: dict[str, set[str]] = {"customer_id": {customer_id}}
    connection = duckdb.connect()
    try:
        for _ in range(16):
            grown = False
            for name, columns in MAPPINGS.items():
                known = [c for c in columns if found.get(c)]
                if not known or not files[name]:
                    continue
                where = " OR ".join(_in_sql(c, found[c]) for c in known)
                select = ", ".join(f'"{c}"' for c in columns)
                sql = f"SELECT DISTINCT {select} FROM {_files_sql(files[name])} WHERE {where}"
                for row in connection.execute(sql).fetchall():
                    for column, value in zip(columns, row, strict=True):
                        if value is not None and value not in found.setdefault(column, set()):
                            found[column].add(str(value))
                            grown = True
            if not grown:
                break
    finally:
        connection.close()
    return {column: sorted(values) for column, values in sorted(found.items())}


@dataclass(frozen=True)
class Filter:
    """The rows to delete from one table: as pyiceberg takes them, and as DuckDB SQL for
    the untimed check afterwards."""

    expression: BooleanExpression
    sql: str


def erasure_filters(identifiers: dict[str, list[str]]) -> dict[str, Filter]:
    """Per table holding the subject: the filter of its rows."""
    filters = {}
    for name, columns in ERASURE_COLUMNS.items():
        held = [c for c in columns if identifiers.get(c)]
        parts: list[BooleanExpression] = [In(term=c, literals=set(identifiers[c])) for c in held]
        if parts:
            expression = parts[0] if len(parts) == 1 else Or(*parts)
            sql = " OR ".join(_in_sql(c, identifiers[c]) for c in held)
            filters[name] = Filter(expression, sql)
    return filters


def months_before(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    return moment.replace(year=year, month=month + 1)  # the 1st: no day overflows


def retention_filters(now: datetime) -> dict[str, Filter]:
    """Per table with a retention by a time column: the filter of its rows past it."""
    filters = {}
    for name, (column, months) in RETENTION.items():
        cutoff = months_before(now, months)
        if column in DATE_COLUMNS:
            value: datetime | date = cutoff.date()
            sql = f"\"{column}\" < DATE '{value.isoformat()}'"
        else:
            value = cutoff
            sql = f"\"{column}\" < TIMESTAMPTZ '{value.isoformat()}'"
        filters[name] = Filter(LessThan(term=column, value=value.isoformat()), sql)
    return filters


# -- the deletion ------------------------------------------------------------------------------
@dataclass
class TableDone:
    """What the baseline did to one table, and how long each part took."""

    table: str
    rows_removed: int = 0
    snapshots_rewritten: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0
    bytes_deleted: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, part: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[part] = self.seconds.get(part, 0.0) + now - started
        return now


def delete_everywhere(
    catalog: SqlCatalog, name: str, expression: BooleanExpression, job: str
) -> TableDone:
    """``expression``'s rows out of every tagged snapshot of table ``name``, the old
    snapshots expired and their files deleted."""
    done = TableDone(name)
    started = time.perf_counter()
    table = catalog.load_table(name)
    refs = dict(table.metadata.refs)
    started = done.add("load", started)
    for snapshot_id in tagged(table):
        before = table.snapshot_by_id(snapshot_id)
        rows_before = (
            int(before.summary.get("total-records", 0)) if before and before.summary else 0
        )
        branch = f"{job}-{snapshot_id}"
        table.manage_snapshots().create_branch(snapshot_id, branch).commit()
        started = done.add("refs", started)
        with warnings.catch_warnings():  # "did not match any records" is an answer here
            warnings.simplefilter("ignore", UserWarning)
            table.delete(expression, branch=branch)
        started = done.add("delete", started)
        new = table.metadata.refs[branch].snapshot_id
        manage = table.manage_snapshots()
        if new != snapshot_id:
            after = table.snapshot_by_id(new)
            rows_after = (
                int(after.summary.get("total-records", 0)) if after and after.summary else 0
            )
            done.rows_removed += rows_before - rows_after
            done.snapshots_rewritten += 1
            for ref_name, ref in refs.items():
                if ref.snapshot_id != snapshot_id:
                    continue
                if ref.snapshot_ref_type == SnapshotRefType.TAG:
                    manage = manage.remove_tag(ref_name).create_tag(new, ref_name)
                else:
                    manage = manage.create_branch(new, ref_name)
        manage.remove_branch(branch).commit()
        started = done.add("refs", started)
    if not done.snapshots_rewritten:
        return done
    kept = {ref.snapshot_id for ref in table.metadata.refs.values()}
    expired = [s.snapshot_id for s in table.metadata.snapshots if s.snapshot_id not in kept]
    if expired:
        table.maintenance.expire_snapshots().by_ids(expired).commit()
    done.snapshots_expired = len(expired)
    started = done.add("expire", started)
    referenced = {local(table.metadata_location)}
    for snapshot in table.metadata.snapshots:
        referenced.add(local(snapshot.manifest_list))
        for manifest in snapshot.manifests(table.io):
            referenced.add(local(manifest.manifest_path))
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                referenced.add(local(entry.data_file.file_path))
    for path in Path(local(table.location())).rglob("*"):
        if path.is_file() and str(path) not in referenced:
            done.bytes_deleted += path.stat().st_size
            path.unlink()
            done.files_deleted += 1
    done.add("sweep", started)
    return done


def run(home: Path, filters: dict[str, Filter], job: str) -> list[TableDone]:
    catalog = open_catalog(home)
    return [
        delete_everywhere(catalog, name, filters[name].expression, job) for name in sorted(filters)
    ]


def remaining(home: Path, filters: dict[str, Filter]) -> dict[str, int]:
    """Per table, the rows ``filters`` still match in any snapshot a ref points to (0)."""
    catalog = open_catalog(home)
    left: dict[str, int] = {}
    connection = duckdb.connect()
    try:
        for name, wanted in sorted(filters.items()):
            table = catalog.load_table(name)
            count = 0
            for snapshot_id in {ref.snapshot_id for ref in table.metadata.refs.values()}:
                files = live_files(table, snapshot_id)
                if files:
                    sql = f"SELECT count(*) FROM {_files_sql(files)} WHERE {wanted.sql}"
                    row = connection.execute(sql).fetchone()
                    count += int(row[0]) if row else 0
            left[name] = count
    finally:
        connection.close()
    return left


def summary(done: list[TableDone]) -> dict[str, Any]:
    parts: dict[str, float] = {}
    for table in done:
        for part, seconds in table.seconds.items():
            parts[part] = parts.get(part, 0.0) + seconds
    return {
        "rows_removed": {t.table: t.rows_removed for t in done},
        "snapshots_expired": sum(t.snapshots_expired for t in done),
        "files_deleted": sum(t.files_deleted for t in done),
        "bytes_deleted": sum(t.bytes_deleted for t in done),
        "parts": parts,
        "tables": {t.table: sum(t.seconds.values()) for t in done},
    }
