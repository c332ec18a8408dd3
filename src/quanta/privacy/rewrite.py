"""Removing rows from every version of a table, the catalog kept in step: what retention
and erasure share.

One table at a time, each step saved in ``progress`` before the next begins, so that a run
killed at any point is finished by the next without deleting anything twice:

1. **rewrite**: each snapshot a ref points to (``main``, every version's tag, a dev build's
   branch) is written again without the matching rows, on side branches
   (`quanta.storage.Storage.rewrite`); the old snapshot's id and the new one's are saved;
2. **repoint**: every ref moves to its rewrite, in one commit of the table's metadata;
3. **move**: one catalog transaction points every port the table holds to the new
   snapshots, their files and statistics, and to the table's new metadata;
4. **sweep**: the snapshots no ref points to are expired and every file the table no
   longer references is deleted (old data files, manifests, manifest lists, metadata);
5. **verify**: a query counts the matching rows left in each version: it must be 0.

A reader that started before step 3 may fail once its files are gone in step 4; a reader
after it reads the rewritten version.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from quanta.errors import PlatformError
from quanta.model.catalog import PortMoved, PortVersion
from quanta.model.privacy import PortRewritten, TableSwept
from quanta.model.relations import Binding, Exposed, TableScan
from quanta.storage import RowFilter, RowsBefore, TableName, filter_sql

if TYPE_CHECKING:
    from quanta.context import MeshContext


def table_name(text: str) -> TableName:
    namespace, _, name = text.partition(".")
    return TableName(namespace, name)


def rewrite_table(
    context: MeshContext,
    table: TableName,
    where: RowFilter,
    job: str,
    progress: dict[str, Any],
    save: Callable[[], None],
    *,
    private: Collection[str] = (),
) -> tuple[list[PortRewritten], TableSwept | None]:
    """Remove the rows ``where`` matches from every version of ``table``; ``progress`` is
    this table's part of the job's record, and ``save`` keeps it."""
    storage, catalog = context.storage, context.stores.catalog
    key = str(table)
    ports = catalog.table_ports(key)
    if "rewritten" not in progress:
        _all_versions_referenced(key, ports, storage.refs(table), job)
        rewrites = storage.rewrite(table, where, job)
        progress["rewritten"] = {
            str(r.before): {
                "after": r.after,
                "rows_removed": r.rows_removed,
                "files_rewritten": r.files_rewritten,
                "files_written": r.files_written,
            }
            for r in rewrites
        }
        save()
    rewritten: dict[str, dict[str, int]] = progress["rewritten"]
    changed = {old: new for old, new in rewritten.items() if new["after"] != int(old)}
    if changed and not progress.get("moved"):
        storage.repoint(table, job)
        refs = storage.refs(table)
        by_snapshot = {snapshot: name for name, snapshot in refs.items()}
        moved = []
        for product, version, port in ports:
            new = changed.get(str(port.snapshot_id))
            if new is None:
                continue
            ref = by_snapshot.get(new["after"])
            staged = (
                None if ref is None else storage.staged(table, ref, contents=True, private=private)
            )
            if staged is None:
                raise PlatformError(
                    f"the rewrite of {key} lost version {version} of {product}: no ref "
                    "points to its new snapshot; run the same command again"
                )
            moved.append(
                PortMoved(
                    product=product,
                    version=version,
                    port=port.port,
                    before=port.snapshot_id,
                    snapshot_id=staged.snapshot_id,
                    rows=staged.rows,
                    bytes=staged.bytes,
                    files=list(staged.files) if staged.files is not None else None,
                    stats=staged.stats,
                )
            )
        current = storage.staged(table, "main")
        assert current is not None, "a published table has a main branch"
        catalog.move_ports(key, current.metadata_location, moved)
        progress["moved"] = True
        save()
    swept = None
    if changed and "swept" not in progress:
        done = storage.sweep(table)
        current = storage.staged(table, "main")
        assert current is not None
        # Expiring wrote the metadata again: the ports read the table there.
        catalog.move_ports(key, current.metadata_location, ())
        progress["swept"] = {"snapshots": done.snapshots, "files": done.files, "bytes": done.bytes}
        save()
    if "swept" in progress:
        swept = TableSwept(table=key, **progress["swept"])
    results = []
    for product, version, port in catalog.table_ports(key):
        done_here = _rewrite_of(rewritten, port)
        shown, count = verify(context, port, where)
        results.append(
            PortRewritten(
                product=product,
                version=version,
                port=port.port,
                table=key,
                rows_removed=done_here.get("rows_removed", 0),
                files_rewritten=done_here.get("files_rewritten", 0),
                files_written=done_here.get("files_written", 0),
                verification=shown,
                remaining=count,
            )
        )
    return results, swept


def _rewrite_of(rewritten: dict[str, dict[str, int]], port: PortVersion) -> dict[str, int]:
    """The rewrite that made the port's snapshot (or left it as it was)."""
    for old, new in rewritten.items():
        if new["after"] == port.snapshot_id or int(old) == port.snapshot_id:
            return new
    return {}


def _all_versions_referenced(
    table: str, ports: Sequence[tuple[str, int, PortVersion]], refs: dict[str, int], job: str
) -> None:
    """Every version the catalog serves from ``table`` must be one a ref points to: the
    sweep keeps only those, and the rewrite reaches only those."""
    pointed = set(refs.values())
    for product, version, port in ports:
        if port.snapshot_id not in pointed:
            raise PlatformError(
                f"version {version} of {product} reads snapshot {port.snapshot_id} of {table}, "
                f"which no tag points to: publish {product} again to repair its tags (its "
                f"recovery step), then run the same command again ({job})"
            )


def verify(context: MeshContext, port: PortVersion, where: RowFilter) -> tuple[str, int]:
    """The query counting the rows ``where`` matches in the port's version, shown with its
    values as ``?``, and what it counted."""
    columns = _filter_columns(where)
    stored = {column.name for column in port.columns}
    present = tuple(name for name in columns if name in stored)
    relation = "version"
    if not present:
        return f"SELECT count(*) FROM {port.table}@{port.snapshot_id} WHERE false", 0
    binding = Binding(
        ((relation,),),
        scan_of(context, port),
        tuple(Exposed(name) for name in present),
    )
    run_condition, shown = filter_sql(where, only=set(present))
    sql = f"SELECT count(*) AS n FROM {relation} WHERE {run_condition}"
    limits = context.build_limits("the verification of a rewrite", rows=False)
    with context.engine.session([binding], limits=limits) as session:
        counted = int(session.to_arrow(sql).column(0)[0].as_py())
    return f"SELECT count(*) FROM {port.table}@{port.snapshot_id} WHERE {shown}", counted


def scan_of(context: MeshContext, port: PortVersion) -> TableScan:
    """The port's snapshot as storage describes it (only storage and the read path make
    table scans)."""
    table = table_name(port.table)
    for ref, snapshot in context.storage.refs(table).items():
        if snapshot == port.snapshot_id:
            staged = context.storage.staged(table, ref, contents=True)
            if staged is not None:
                return staged.scan
    raise PlatformError(f"no ref of {port.table} points to snapshot {port.snapshot_id}")


def _filter_columns(where: RowFilter) -> tuple[str, ...]:
    if isinstance(where, RowsBefore):
        return (where.column,)
    return tuple(column for column, _ in where.columns)
