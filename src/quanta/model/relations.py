"""What an engine can read, and under which names a query sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TableScan:
    """An Iceberg table at one snapshot.

    ``files`` are the snapshot's data files when its manifests list nothing but whole
    Parquet files (no delete files), as in every snapshot Quanta writes: an engine can
    read them directly instead of planning the scan from the table's metadata again.
    """

    metadata_location: str
    snapshot_id: int
    location: str
    files: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FileScan:
    """Files in CSV, Parquet or JSON that a source input port declares.

    ``paths`` are the files themselves, resolved and checked to lie inside the product
    folder ``root``, beneath which an engine opens them (`quanta.product_files.open_inside`);
    without a root, the paths are open files already. ``label`` is the path as the
    descriptor declares it, for messages.
    """

    paths: tuple[str, ...]
    format: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    root: str = ""


@dataclass(frozen=True)
class DatabaseTable:
    """A table in a database that is not Quanta's: a DuckDB or SQLite file, or PostgreSQL.

    ``location`` is the file's path, or a PostgreSQL connection string that holds no
    secret (the password comes from the environment, as libpq reads it). An engine opens
    the database read-only before anything a user wrote reaches it. ``label`` names the
    table for messages.
    """

    kind: str
    location: str
    table: str
    schema: str | None = None
    label: str = ""

    @property
    def database(self) -> str:
        """The name an engine attaches the database under: one per kind and location."""
        import hashlib

        digest = hashlib.sha256(f"{self.kind}\0{self.location}".encode()).hexdigest()
        return f"__quanta_db_{digest[:12]}"


Relation = TableScan | FileScan | DatabaseTable


@dataclass(frozen=True)
class Exposed:
    """One column a read exposes: its name, and the SQL that computes it from the stored
    column (None: the stored value as it is).

    Expressions are the platform's own (a mask, a pseudonym), never a user's SQL.
    """

    name: str
    expression: str | None = None


CHECKED_PREFIX = "__port_"
"""How the rows of a port (or schema object) whose rules are checked are named in a
session: ``__port_orders``, apart from any input port's name."""


@dataclass(frozen=True)
class Binding:
    """A relation visible to a query under one or more names (tuples of parts).

    ``columns``, when set, are the only columns the names show, each as its expression:
    the read path (`quanta.reading`) decides them for every published port.
    """

    names: tuple[tuple[str, ...], ...]
    relation: Relation
    columns: tuple[Exposed, ...] | None = None
