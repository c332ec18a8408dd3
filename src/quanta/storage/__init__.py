"""Table storage: where built data lives, snapshot by snapshot."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from quanta.model.relations import TableScan
from quanta.sql_text import literal, quote

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.model.catalog import TableStats
    from quanta.model.names import ProductId


@dataclass(frozen=True)
class TableName:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


def port_table(product: ProductId, port: str, major: int) -> TableName:
    """The table of one major version of an output port: domain.product__port__vN.

    One table per (product, port, major): names hold no ``__`` (`new_name_problem`), so no
    two ports share a table; products named before that rule are checked at validate.
    """
    return TableName(product.domain, f"{product.name}__{port}__v{major}")


@dataclass(frozen=True)
class StagedTable:
    """A snapshot written on a side branch: readable by Quanta, not yet served."""

    table: TableName
    branch: str
    snapshot_id: int
    metadata_location: str
    location: str
    rows: int
    bytes: int
    files: tuple[str, ...] | None = None
    """The snapshot's data files, when it has no delete files; None when not looked up."""
    stats: TableStats | None = None
    """Row and column statistics from the snapshot's manifests; None when not looked up."""
    columns: tuple[str, ...] = ()
    """The names of the table's stored columns."""

    @property
    def scan(self) -> TableScan:
        return TableScan(self.metadata_location, self.snapshot_id, self.location, self.files)


@dataclass(frozen=True)
class RowsMatching:
    """The rows where any of the columns holds one of its values (a subject's ids)."""

    columns: tuple[tuple[str, tuple[str | int | bytes, ...]], ...]
    """Each column and its values; an encrypted column's values are their ciphertexts."""

    def __bool__(self) -> bool:
        return any(values for _, values in self.columns)


@dataclass(frozen=True)
class RowsBefore:
    """The rows whose time column is earlier than ``cutoff`` (a retention limit)."""

    column: str
    cutoff: datetime | date


RowFilter = RowsMatching | RowsBefore


def filter_sql(where: RowFilter, only: Collection[str] | None = None) -> tuple[str, str]:
    """The filter as DuckDB SQL to run, and as SQL to show (its values as ``?``); ``only``
    limits it to the columns a table has ("false" when it has none of them)."""
    if isinstance(where, RowsBefore):
        if only is not None and where.column not in only:
            return "false", "false"
        return f"{quote(where.column)} < {literal(where.cutoff)}", f"{quote(where.column)} < ?"
    run, shown = [], []
    for column, values in where.columns:
        if not values or (only is not None and column not in only):
            continue
        run.append(f"{quote(column)} IN ({', '.join(literal(v) for v in values)})")
        shown.append(f"{quote(column)} IN ({', '.join('?' for _ in values)})")
    if not run:
        return "false", "false"
    return " OR ".join(run), " OR ".join(shown)


@dataclass(frozen=True)
class Rewrite:
    """One snapshot the table's refs point to, and the snapshot that replaces it without
    the rows a filter matched: on the side branch ``branch`` until `Storage.repoint`."""

    refs: tuple[str, ...]
    before: int
    after: int
    branch: str | None
    rows_before: int
    rows_after: int
    files_rewritten: int
    """Data files of ``before`` that ``after`` no longer holds (dropped or rewritten)."""
    files_written: int

    @property
    def rows_removed(self) -> int:
        return self.rows_before - self.rows_after

    @property
    def changed(self) -> bool:
        return self.after != self.before


@dataclass(frozen=True)
class Swept:
    """What expiring a table's unreferenced snapshots removed from its folder."""

    snapshots: int
    files: int
    bytes: int


class Storage(Protocol):
    name: str

    def stage(
        self,
        table: TableName,
        data: pa.RecordBatchReader,
        branch: str,
        *,
        private: Collection[str] = (),
    ) -> StagedTable:
        """Write ``data`` as a new snapshot on ``branch``, replacing what the branch held.

        No value of a ``private`` column reaches the table's metadata: its files record
        counts for it, never lower and upper bounds.
        """
        ...

    def location(self, table: TableName) -> str:
        """The folder holding the table's files, also before the table exists."""
        ...

    def staged(
        self,
        table: TableName,
        branch: str,
        *,
        contents: bool = False,
        private: Collection[str] = (),
    ) -> StagedTable | None:
        """The snapshot ``branch`` holds, if the table and branch exist.

        With ``contents``, also its data files and statistics (this reads its manifests),
        without bounds of ``private`` columns; `stage` always returns them.
        """
        ...

    def promote(self, staged: StagedTable, tag: str) -> None:
        """Make the staged snapshot the table's main one, tag it, and drop its branch."""
        ...

    def discard(self, table: TableName, branch: str) -> None: ...

    def branches(self, table: TableName) -> list[str]: ...

    def tables(self) -> list[TableName]:
        """Every table the storage holds, served or not (a dev build of a product never
        published has a table no version names)."""
        ...

    def refs(self, table: TableName) -> dict[str, int]:
        """Every branch and tag of the table, with the snapshot it points to."""
        ...

    def rewrite(self, table: TableName, where: RowFilter, job: str) -> list[Rewrite]:
        """For each snapshot a ref points to, write one without the rows ``where`` matches,
        on a side branch named after ``job``; no ref moves yet. Run again after a kill, it
        finishes what is left and redoes nothing. A snapshot with no such row is left as
        it is. The new snapshots' metadata holds nothing of the removed rows (no bound of
        theirs in a manifest)."""
        ...

    def repoint(self, table: TableName, job: str) -> None:
        """Move every ref from its snapshot to its rewrite on ``job``'s branches, and drop
        those branches, all in one commit."""
        ...

    def sweep(self, table: TableName) -> Swept:
        """Expire every snapshot no ref points to, and delete every file under the table's
        folder that the table's current metadata does not reference."""
        ...
