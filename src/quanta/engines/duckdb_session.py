"""One DuckDB session: a locked connection over bound relations, within its limits.

The engine (`quanta.engines.duckdb`) opens it; errors come out as `duckdb_refusals` tells
them; its time is kept by a `Watchdog`; a Python transformation runs in a process of its
own (`duckdb_worker`), whose tables the session maps as views.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from quanta.engines import Limits, TransformationFailed, processes
from quanta.engines.duckdb_refusals import refusals
from quanta.engines.duckdb_sandbox import close_descriptors
from quanta.engines.duckdb_sql import projection, scan_sql, storable_select
from quanta.engines.duckdb_watchdog import Watchdog
from quanta.errors import PlatformError, QueryRefused
from quanta.model.relations import CHECKED_PREFIX, Binding, DatabaseTable, FileScan
from quanta.sql_text import quote

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.engines.duckdb import DuckDBEngine

BATCH_ROWS = 256 * 1024
WORKER = "quanta.engines.duckdb_worker"
"""The module a Python transformation runs in, in a process of its own (its protocol)."""
ANSWER = "answer.json"


class DuckDBSession:
    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        bindings: Sequence[Binding],
        *,
        engine: DuckDBEngine,
        limits: Limits | None = None,
        descriptors: list[int] | None = None,
    ) -> None:
        self.connection = connection
        self.bindings = list(bindings)
        self.engine = engine
        self.limits = limits or Limits("the query")
        self._catalogs: set[str] = set()
        self._schemas: set[tuple[str, str]] = set()
        self._outputs: list[pa.Table] = []  # Python outputs, mapped from their files
        self._scratch: list[Path] = []
        self._descriptors = descriptors if descriptors is not None else []
        self._watchdog = Watchdog(connection, self.limits.seconds)

    def close(self) -> None:
        """End the session: no interrupt comes after this, and its scratch files are gone."""
        self._watchdog.stop()
        self.connection.close()
        self._outputs.clear()
        close_descriptors(self._descriptors)
        for folder in self._scratch:
            processes.remove_scratch(folder)

    def add_scratch(self, folder: Path) -> None:
        """Remove ``folder`` when the session ends."""
        self._scratch.append(folder)

    def stopped(self) -> str | None:
        return self.limits.too_long() if self._watchdog.expired else None

    def _within_limits(self) -> None:
        reason = self.stopped()
        if reason is not None:
            raise QueryRefused(reason)

    @contextmanager
    def refusals(self) -> Iterator[None]:
        """Engine errors as `QueryRefused` (the user's) or `PlatformError` (the engine's),
        without data values or absolute paths; once the time is up, that (nothing more
        runs in a session whose time is up)."""
        self._within_limits()
        try:
            with refusals(self.bindings, self.connection, places=self._places()):
                yield
        except Exception:
            # The watchdog's interrupt surfaces as whatever was running: say why.
            self._within_limits()
            raise

    def _places(self) -> dict[str, str]:
        """The engine's own folders, as messages name them instead of by absolute paths."""
        places = {str(folder): "the session's scratch folder" for folder in self._scratch}
        places[str(self.engine.extension_directory.resolve())] = "the engine's extensions"
        if self.engine.scratch_directory is not None:
            places[str(self.engine.scratch_directory.resolve())] = "the engine's scratch folder"
        return places

    def _relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        with self.refusals():
            return self.connection.sql(sql)

    def bind(self, binding: Binding) -> None:
        """Create the binding's views: a view over a source reads (sniffs) its files now."""
        self._within_limits()
        if binding not in self.bindings:
            self.bindings.append(binding)
        relation = binding.relation
        if isinstance(relation, FileScan):
            empty = [path for path in relation.paths if Path(path).stat().st_size == 0]
            if empty:
                raise QueryRefused(
                    f"the source {relation.label or Path(empty[0]).name} of "
                    f"{_whose(binding)} is an empty file: a {relation.format} "
                    "file needs at least a header or one record"
                )
        scan = scan_sql(relation)
        shown = "*" if binding.columns is None else projection(binding.columns)
        try:
            with self.refusals():
                for name in binding.names:
                    target = self._target(name)
                    self.connection.execute(f"CREATE VIEW {target} AS SELECT {shown} FROM {scan}")
        except QueryRefused as error:
            if isinstance(relation, DatabaseTable):
                raise QueryRefused(
                    f"the table {relation.label} cannot be read: "
                    + str(error).removeprefix("the query failed: ")
                ) from None
            if not isinstance(relation, FileScan):
                raise
            raise QueryRefused(
                f"the source {relation.label} of {_whose(binding)} "
                f"cannot be read as {relation.format}: "
                + str(error).removeprefix("the query failed: ")
            ) from None

    def _target(self, name: tuple[str, ...]) -> str:
        """The view's qualified name, creating the catalog and schema it lives in."""
        if len(name) == 1:
            return quote(name[0])
        catalog, schema = name[0], "main" if len(name) == 2 else name[1]
        if catalog not in self._catalogs:
            self.connection.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {quote(catalog)}")
            self._catalogs.add(catalog)
        if schema != "main" and (catalog, schema) not in self._schemas:
            self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(catalog)}.{quote(schema)}")
            self._schemas.add((catalog, schema))
        return f"{quote(catalog)}.{quote(schema)}.{quote(name[-1])}"

    def columns(self, sql: str) -> list[tuple[str, str]]:
        relation = self._relation(sql)
        return [
            (name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
        ]

    def to_arrow(self, sql: str, *, limit: int | None = None) -> pa.Table:
        with self.refusals():
            relation = self._relation(sql)
            if limit is None and self.limits.rows is None:
                return relation.to_arrow_table()
            if limit is not None and limit <= 0:
                return relation.limit(0).to_arrow_table()
            with relation.to_arrow_reader(batch_size=BATCH_ROWS) as reader:
                return self._collect(reader, limit)

    def row(self, sql: str) -> dict[str, Any]:
        with self.refusals():
            relation = self._relation(sql)
            plain = all(_plain(kind) for kind in relation.types)
            found = relation.fetchone() if plain else None
        if not plain:
            return dict(self.to_arrow(sql).to_pylist()[0])
        if found is None:
            raise PlatformError(f"a query of one row returned none: {sql[:200]}")
        return dict(zip(relation.columns, found, strict=True))

    def _collect(self, reader: pa.RecordBatchReader, limit: int | None) -> pa.Table:
        """At most ``limit`` rows of ``reader``, read no further than needed."""
        import pyarrow as pa

        most = self.limits.rows
        batches: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            if limit is not None and rows + batch.num_rows > limit:
                batch = batch.slice(0, limit - rows)
            rows += batch.num_rows
            if most is not None and rows > most:
                raise QueryRefused(self.limits.too_many("the result"))
            batches.append(batch)
            if limit is not None and rows >= limit:
                break
        return pa.Table.from_batches(batches, schema=reader.schema)

    def stream(self, sql: str) -> pa.RecordBatchReader:
        import pyarrow as pa

        storable = storable_select(f"({sql})", self.columns(sql))
        with self.refusals():
            reader = self._relation(storable).to_arrow_reader(batch_size=BATCH_ROWS)
        return pa.RecordBatchReader.from_batches(reader.schema, self._guarded(reader))

    def _guarded(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """The batches of ``reader`` while they stay within the session's limits.

        Whoever consumes the stream (the storage, writing it) sees the same refusals as
        a query: an error while reading is an `OSError` in DuckDB's words, and the
        watchdog's interrupt is one too.
        """
        rows = 0
        with self.refusals(), reader:
            for batch in reader:
                rows += batch.num_rows
                if self.limits.rows is not None and rows > self.limits.rows:
                    raise QueryRefused(self.limits.too_many("the output"))
                yield batch

    def run_python(self, source: str, filename: str, function: str) -> dict[str, str]:
        """Run the transformation in a fresh interpreter (`WORKER`), then read its tables.

        The child opens its own session over the same bindings, through this same
        engine, and so meets the same sandbox. It writes one Arrow IPC stream per output
        into a scratch folder; this session maps those files, without copying them, as
        views. The child gets the time the session has left and is killed when it is over.
        """
        self._within_limits()
        folder = processes.scratch(self.engine.scratch_directory)
        self.add_scratch(folder)
        request = folder / "request.json"
        request.write_text(
            json.dumps(
                {
                    # The code as it was read and checked, never the file again.
                    "source": source,
                    "filename": filename,
                    "function": function,
                    "engine": {
                        "extension_directory": str(self.engine.extension_directory.resolve()),
                        "memory_limit": self.engine.memory_limit,
                        "threads": self.engine.threads,
                        "scratch_directory": str(folder),
                    },
                    "bindings": [dataclasses.asdict(binding) for binding in self.bindings],
                    # The child has no clock of its own: this process kills it in time.
                    "limits": dataclasses.asdict(self.limits) | {"seconds": None},
                }
            ),
            encoding="utf-8",
        )
        code = self._run_worker(request)
        answer_file = folder / ANSWER
        if not answer_file.is_file():
            raise TransformationFailed(
                f"{filename}: {processes.ended(code)} before returning its tables"
            )
        answer = json.loads(answer_file.read_text(encoding="utf-8"))
        if "error" in answer:
            # The engine failing in the child is the engine's failure, not the product's.
            failed = PlatformError if answer.get("engine_failed") else TransformationFailed
            raise failed(str(answer["error"]))
        queries: dict[str, str] = {}
        for port, name in answer["ports"].items():
            file = folder / name
            if file.parent != folder or not file.is_file():
                raise TransformationFailed(f"{filename}: the output for {port!r} is missing")
            import pyarrow as pa

            # Memory-mapped: the table's buffers are the file's pages, read as DuckDB scans.
            table = pa.ipc.open_stream(pa.memory_map(str(file))).read_all()
            view = f"__quanta_output_{len(self._outputs)}"
            self._outputs.append(table)
            self.connection.register(view, table)
            queries[port] = f"SELECT * FROM {quote(view)}"
        return queries

    def _run_worker(self, request: Path) -> int:
        """The child's exit code; `QueryRefused` when the session's time ran out first."""
        # With -P, no module in the working folder can stand in for Quanta's or DuckDB's.
        command = [sys.executable, "-P", "-m", WORKER, str(request)]
        try:
            # The child reads the sources through the same open files (their paths name
            # them by number: /proc/self/fd/N).
            return processes.run(
                command,
                self._watchdog.remaining(),
                self._descriptors,
                env=processes.clean_environment(),  # no setting, no credential
            )
        except subprocess.TimeoutExpired:
            raise QueryRefused(self.limits.too_long()) from None


PLAIN = frozenset(
    {
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL",
        "VARCHAR",
        "DATE",
        "TIMESTAMP",
        "TIME",
        "BLOB",
        "NULL",
    }
)
"""Types whose values DuckDB hands to Python as Arrow's ``to_pylist`` does (of the same
class, equal); the others (zones, intervals, UUIDs, maps...) go through Arrow."""


def _plain(kind: duckdb.sqltypes.DuckDBPyType) -> bool:
    """Whether ``kind``, and every type nested in it, is `PLAIN`."""
    name = kind.id.upper()
    if name in ("STRUCT", "LIST"):
        children = [child for _, child in kind.children]
        return all(isinstance(c, duckdb.sqltypes.DuckDBPyType) and _plain(c) for c in children)
    return name in PLAIN


def _whose(binding: Binding) -> str:
    """What a binding's files are read for, as a message names it: an input port, or the
    port (or schema object) whose rules are checked (`CHECKED_PREFIX`)."""
    name = ".".join(binding.names[0])
    checked = name.removeprefix(CHECKED_PREFIX)
    return f"input port {name}" if checked == name else checked
