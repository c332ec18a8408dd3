"""Table storage: where built data lives, snapshot by snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from quanta.model.relations import TableScan

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.model.catalog import TableStats


@dataclass(frozen=True)
class TableName:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


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

    @property
    def scan(self) -> TableScan:
        return TableScan(self.metadata_location, self.snapshot_id, self.location, self.files)


class Storage(Protocol):
    name: str

    def stage(self, table: TableName, data: pa.RecordBatchReader, branch: str) -> StagedTable:
        """Write ``data`` as a new snapshot on ``branch``, replacing what the branch held."""
        ...

    def location(self, table: TableName) -> str:
        """The folder holding the table's files, also before the table exists."""
        ...

    def staged(
        self, table: TableName, branch: str, *, contents: bool = False
    ) -> StagedTable | None:
        """The snapshot ``branch`` holds, if the table and branch exist.

        With ``contents``, also its data files and statistics (this reads its manifests);
        `stage` always returns them.
        """
        ...

    def promote(self, staged: StagedTable, tag: str) -> None:
        """Make the staged snapshot the table's main one, tag it, and drop its branch."""
        ...

    def discard(self, table: TableName, branch: str) -> None: ...

    def branches(self, table: TableName) -> list[str]: ...
