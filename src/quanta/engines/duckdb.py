"""The embedded engine: DuckDB, with extensions loaded from their pinned PyPI packages."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from quanta.engines import Limits, TransformationFailed, duckdb_errors, processes
from quanta.errors import ConfigError, QueryRefused, first_line
from quanta.model.relations import Binding, Exposed, FileScan, Relation, TableScan
from quanta.model.sources import SOURCE_OPTIONS, option_value_fits
from quanta.model.types import storable_type
from quanta.product_files import OutsideFolder, open_inside, opened_path
from quanta.sql_text import literal, quote

EXTENSIONS = ("avro", "iceberg")
BATCH_ROWS = 256 * 1024
WORKER = "quanta.engines.duckdb_worker"
"""The module a Python transformation runs in, in a process of its own (its protocol)."""
ANSWER = "answer.json"


def _extension_file(name: str) -> Path:
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the DuckDB extension {name!r} is not installed: "
            f"pip install 'duckdb-extension-{name}=={duckdb.__version__}'"
        )
    base = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(base.glob(f"extensions/*/{name}.duckdb_extension"))
    if not found:
        raise ConfigError(
            f"the package duckdb-extension-{name} holds no extension file: reinstall it"
        )
    return found[-1]


class DuckDBEngine:
    name = "duckdb"

    def __init__(
        self,
        extension_directory: Path,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        scratch_directory: Path | None = None,
    ) -> None:
        self.extension_directory = extension_directory
        self.memory_limit = memory_limit
        self.threads = threads
        # Python transformations hand their tables over as files in here; the system's
        # temporary folder (the default) may be too small for them.
        self.scratch_directory = scratch_directory

    def connect(self, *, iceberg: bool = True) -> duckdb.DuckDBPyConnection:
        """A connection that never downloads anything; with ``iceberg``, it can plan scans
        of Iceberg tables from their metadata (loading that extension takes a while)."""
        config: dict[str, Any] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": str(self.extension_directory),
        }
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        try:
            connection = duckdb.connect(":memory:", config=config)
        except duckdb.Error as error:
            raise ConfigError(
                f"the engine settings are not valid (QUANTA_BUILD_MEMORY_LIMIT, "
                f"QUANTA_BUILD_THREADS): {first_line(error)}"
            ) from None
        # Arrow timestamps leave in UTC whatever the machine's zone, as Iceberg expects.
        connection.execute("SET TimeZone = 'UTC'")
        # Quanta reports progress itself; DuckDB's bar would write into stdout (and --json).
        connection.execute("SET enable_progress_bar = false")
        if not iceberg:
            return connection
        installed = {
            row[0]
            for row in connection.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE installed"
            ).fetchall()
        }
        for name in EXTENSIONS:
            if name not in installed:
                connection.execute(f"INSTALL {literal(str(_extension_file(name)))}")
            connection.execute(f"LOAD {name}")
        return connection

    @contextmanager
    def session(
        self,
        bindings: Sequence[Binding],
        *,
        also_readable: Sequence[str] = (),
        limits: Limits | None = None,
    ) -> Iterator[DuckDBSession]:
        # Snapshots whose files are known are read as Parquet; only the others need the
        # iceberg extension, and so may tables staged later in the session (an empty
        # snapshot has no files to read).
        planned = any(
            isinstance(binding.relation, TableScan) and not binding.relation.files
            for binding in bindings
        )
        descriptors: list[int] = []
        try:
            # Source files are read through descriptors opened now, beneath their folder:
            # a link someone swaps in later cannot redirect a read.
            bindings = [_opened(binding, descriptors) for binding in bindings]
        except OutsideFolder as error:
            _close(descriptors)
            raise QueryRefused(f"the source {error}") from None
        connection = self.connect(iceberg=planned or bool(also_readable))
        spill = processes.scratch(self.scratch_directory)
        session = DuckDBSession(
            connection, bindings, engine=self, limits=limits, descriptors=descriptors
        )
        session.add_scratch(spill)
        try:
            # DuckDB's own temporary files go here, not into ./.tmp (which its sandbox
            # would then let queries read).
            connection.execute(f"SET temp_directory = {literal(str(spill))}")
            files, folders = _readable(bindings)
            folders |= {_folder(location) for location in also_readable}
            # Locked before anything a user declared reaches the connection: a view over a
            # source reads its file as it is created.
            _lock(connection, files=files, folders=folders)
            for binding in bindings:
                session.bind(binding)
            yield session
        finally:
            session.close()

    def export(self, sql: str, path: Path, variables: dict[str, Any]) -> int:
        formats = {
            ".csv": "FORMAT csv, HEADER true",
            ".parquet": "FORMAT parquet",
            ".json": "FORMAT json",
        }
        options = formats.get(path.suffix.lower())
        if options is None:
            raise ConfigError(f"cannot write {path.name}: use a .csv, .parquet or .json file")
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = self.connect(iceberg=False)
        try:
            _lock(connection, files=set(), folders={_folder(str(path.parent.resolve()))})
            for name, value in variables.items():
                connection.execute(f"SET VARIABLE {quote(name)} = {literal(value)}")
            target = literal(str(path.resolve()))
            try:
                connection.execute(f"COPY ({sql}) TO {target} ({options})")
            except duckdb.Error as error:
                raise ConfigError(f"cannot write {path.name}: {first_line(error)}") from None
            reader = f"read_{path.suffix.lower().lstrip('.')}"
            count = connection.execute(f"SELECT count(*) FROM {reader}({target})").fetchone()
        finally:
            connection.close()
        return int(count[0]) if count else 0


def _lock(connection: duckdb.DuckDBPyConnection, *, files: set[str], folders: set[str]) -> None:
    """Let the connection read ``files`` and the files in ``folders``, and nothing else, ever."""
    connection.execute(f"SET allowed_directories = {literal(sorted(folders))}")
    connection.execute(f"SET allowed_paths = {literal(sorted(files))}")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def _scan_sql(relation: Relation) -> str:
    if isinstance(relation, TableScan) and relation.files:
        return f"read_parquet({literal(list(relation.files))})"
    if isinstance(relation, TableScan):
        return (
            f"iceberg_scan({literal(relation.metadata_location)}, "
            f"snapshot_from_id => {int(relation.snapshot_id)})"
        )
    known = SOURCE_OPTIONS.get(relation.format)
    if known is None:
        raise QueryRefused(f"{relation.label}: Quanta reads no {relation.format!r} files")
    options = []
    for key, value in relation.options.items():
        kind = known.get(key)
        # Validation refuses these already; the engine does not rely on it having run.
        if kind is None or not option_value_fits(kind, value):
            raise QueryRefused(f"{relation.label}: the reader option {key!r} is not allowed")
        options.append(f", {quote(key)} => {literal(value)}")
    reader = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}[relation.format]
    return f"{reader}({literal(list(relation.paths))}{''.join(options)})"


def _projection(columns: tuple[Exposed, ...]) -> str:
    """The select list of a view that shows exactly ``columns``."""
    assert columns, "the read path binds a port with at least one column, or not at all"
    return ", ".join(
        quote(c.name) if c.expression is None else f"{c.expression} AS {quote(c.name)}"
        for c in columns
    )


def _opened(binding: Binding, descriptors: list[int]) -> Binding:
    """The binding with its source files as open descriptors (kept in ``descriptors``)."""
    relation = binding.relation
    if not isinstance(relation, FileScan) or not relation.root:
        return binding
    root = Path(relation.root)
    paths = []
    for path in relation.paths:
        descriptor = open_inside(root, Path(path))
        descriptors.append(descriptor)
        # Where the system has no path for an open file, the checked path it is.
        paths.append(opened_path(descriptor) or path)
    return dataclasses.replace(
        binding, relation=dataclasses.replace(relation, paths=tuple(paths), root="")
    )


def _close(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        with suppress(OSError):
            os.close(descriptor)
    descriptors.clear()


def _folder(location: str) -> str:
    return location.removeprefix("file://").rstrip("/") + "/"


def _readable(bindings: Sequence[Binding]) -> tuple[set[str], set[str]]:
    """The files, and the folders, that reading ``bindings`` needs: no more."""
    files: set[str] = set()
    folders: set[str] = set()
    for binding in bindings:
        relation = binding.relation
        if isinstance(relation, FileScan):
            files.update(relation.paths)
        elif relation.files:
            files.update(relation.files)
        else:
            # Planning a scan from Iceberg metadata reads the metadata and manifests too.
            folders.add(_folder(relation.location))
    return files, folders


def _labels(bindings: Sequence[Binding]) -> dict[str, str]:
    """How messages name the files a session reads: as declared, or by the relation's name."""
    labels: dict[str, str] = {}
    for binding in bindings:
        relation = binding.relation
        name = ".".join(binding.names[-1]) if binding.names else "an input"
        if isinstance(relation, FileScan):
            for path in relation.paths:
                labels[path] = relation.label or name
            continue
        for path in relation.files or ():
            labels[path] = f"a data file of {name}"
        labels[_folder(relation.location).rstrip("/")] = f"the table of {name}"
        labels[relation.metadata_location.removeprefix("file://")] = f"the metadata of {name}"
    return labels


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
        self._watchdog = _Watchdog(connection, self.limits.seconds)

    def close(self) -> None:
        """End the session: no interrupt comes after this, and its scratch files are gone."""
        self._watchdog.stop()
        self.connection.close()
        self._outputs.clear()
        _close(self._descriptors)
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
        """Engine errors as `QueryRefused`, without data values or absolute paths; once
        the time is up, that (nothing more runs in a session whose time is up)."""
        self._within_limits()
        try:
            with _refusals(self.bindings, self.connection):
                yield
        except Exception:
            # The watchdog's interrupt surfaces as whatever was running: say why.
            self._within_limits()
            raise

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
                    f"the source {relation.label or Path(empty[0]).name} of input port "
                    f"{'.'.join(binding.names[0])} is an empty file: a {relation.format} "
                    "file needs at least a header or one record"
                )
        scan = _scan_sql(relation)
        shown = "*" if binding.columns is None else _projection(binding.columns)
        try:
            with self.refusals():
                for name in binding.names:
                    target = self._target(name)
                    self.connection.execute(f"CREATE VIEW {target} AS SELECT {shown} FROM {scan}")
        except QueryRefused as error:
            if not isinstance(relation, FileScan):
                raise
            raise QueryRefused(
                f"the source {relation.label} of input port {'.'.join(binding.names[0])} "
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

    def _collect(self, reader: pa.RecordBatchReader, limit: int | None) -> pa.Table:
        """At most ``limit`` rows of ``reader``, read no further than needed."""
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
        storable = _storable_select(f"({sql})", self.columns(sql))
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
            raise TransformationFailed(str(answer["error"]))
        queries: dict[str, str] = {}
        for port, name in answer["ports"].items():
            file = folder / name
            if file.parent != folder or not file.is_file():
                raise TransformationFailed(f"{filename}: the output for {port!r} is missing")
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
            return processes.run(command, self._watchdog.remaining(), self._descriptors)
        except subprocess.TimeoutExpired:
            raise QueryRefused(self.limits.too_long()) from None


class _Watchdog:
    """Interrupts a connection once its time is up, and again until the session ends.

    An interrupt stops the statement running at that moment, or a stream being read; a
    statement started later would run: the session refuses to start one (`expired`),
    and the repeated interrupts catch one that started in the same instant.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, seconds: float | None) -> None:
        self._deadline = None if seconds is None else time.monotonic() + seconds
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if seconds is not None:
            self._thread = threading.Thread(
                target=self._watch, args=(connection,), name="quanta-watchdog", daemon=True
            )
            self._thread.start()

    @property
    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def _watch(self, connection: duckdb.DuckDBPyConnection) -> None:
        if self._done.wait(self.remaining()):
            return
        while not self._done.is_set():
            connection.interrupt()
            self._done.wait(0.05)

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


class UnknownInput(KeyError):
    """A Python transformation asked for an input its product does not declare."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Inputs:
    """What a Python transformation receives: its declared inputs, and nothing else.

    ``inputs["orders"]`` is a DuckDB relation; ``inputs.sql("SELECT ...")`` runs SQL
    over them; ``inputs.arrow("orders")`` reads one input as an Arrow table.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, bindings: Sequence[Binding]) -> None:
        self._connection = connection
        self._bindings = bindings
        self.names = sorted(".".join(name) for binding in bindings for name in binding.names)

    def __getitem__(self, name: str) -> duckdb.DuckDBPyRelation:
        if name not in self.names:
            raise UnknownInput(
                f"{name!r} is not an input of this product: use one of {', '.join(self.names)}"
            )
        return self._connection.sql(f"SELECT * FROM {'.'.join(quote(p) for p in name.split('.'))}")

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        with _refusals(self._bindings, self._connection):
            return self._connection.sql(query)

    def arrow(self, name: str) -> pa.Table:
        return self[name].to_arrow_table()


def _storable_select(source: str, columns: list[tuple[str, str]]) -> str:
    selected = []
    for name, engine_type in columns:
        target = storable_type(engine_type)
        if target is None:
            raise QueryRefused(
                f"column {name!r} has type {engine_type}, which Quanta cannot store: "
                "cast it to a type such as VARCHAR, BIGINT, DOUBLE, DECIMAL, DATE or TIMESTAMP"
            )
        column = quote(name)
        if target != engine_type.upper():
            selected.append(f"CAST({column} AS {target}) AS {column}")
        else:
            selected.append(column)
    return f"SELECT {', '.join(selected)} FROM {source}"


@contextmanager
def _refusals(
    bindings: Sequence[Binding] = (), connection: duckdb.DuckDBPyConnection | None = None
) -> Iterator[None]:
    """DuckDB's errors about a query, as Quanta's: the sandbox's, then any other.

    Messages never carry values from the data nor absolute paths (`duckdb_errors`).
    """
    try:
        yield
    except duckdb.PermissionException as error:
        shown = duckdb_errors.message(type(error).__name__, str(error), _labels(bindings))
        raise QueryRefused(
            f"the query tried to read outside its declared inputs: {shown}"
        ) from None
    except duckdb.Error as error:
        columns = _column_names(connection)
        kind = type(error).__name__
        shown = duckdb_errors.message(kind, str(error), _labels(bindings), columns)
        if isinstance(error, duckdb.BinderException) and connection is not None:
            shown += _source_columns(bindings, connection)
        raise QueryRefused(f"the query failed: {shown}") from None
    except OSError as error:
        # An error while an Arrow stream of the engine is read: DuckDB's message, which
        # may hold values, in an OSError. Shown as a value error: by its kind alone.
        columns = _column_names(connection)
        kind = type(error).__name__
        shown = duckdb_errors.message(kind, str(error), _labels(bindings), columns)
        raise QueryRefused(f"the query failed: {shown}") from None


def _column_names(connection: duckdb.DuckDBPyConnection | None) -> frozenset[str]:
    """The columns of the session's relations: the only column names a message may show."""
    if connection is None:
        return frozenset()
    try:
        rows = connection.execute("SELECT DISTINCT column_name FROM duckdb_columns()").fetchall()
    except duckdb.Error:
        return frozenset()
    return frozenset(str(row[0]) for row in rows)


def _source_columns(bindings: Sequence[Binding], connection: duckdb.DuckDBPyConnection) -> str:
    """How many columns each source file was read with; their names may be a data row.

    A CSV file without a header line is read with its first row as the names.
    """
    found = []
    for binding in bindings:
        relation = binding.relation
        if not isinstance(relation, FileScan):
            continue
        name = binding.names[0]
        try:
            described = connection.execute(
                f"SELECT * FROM {'.'.join(quote(part) for part in name)} LIMIT 0"
            ).description
        except duckdb.Error:
            continue
        count = len(described or [])
        found.append(
            f"{'.'.join(name)} ({relation.label}) was read with {count} "
            f"column{'' if count == 1 else 's'}"
        )
    if not found:
        return ""
    return f"; {'; '.join(found)} (does each file start with a header line?)"
