"""Table storage: where built data lives, snapshot by snapshot."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from quanta.model.relations import TableScan

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
