"""The embedded engine: DuckDB, with extensions loaded from their pinned PyPI packages."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from quanta.engines import duckdb_errors
from quanta.errors import ConfigError, QueryRefused, first_line
from quanta.model.product import SOURCE_OPTIONS, option_value_fits
from quanta.model.relations import Binding, FileScan, Relation, TableScan
from quanta.model.types import storable_type
from quanta.sql_text import literal, quote

EXTENSIONS = ("avro", "iceberg")


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
    ) -> None:
        self.extension_directory = extension_directory
        self.memory_limit = memory_limit
        self.threads = threads

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
        self, bindings: Sequence[Binding], *, also_readable: Sequence[str] = ()
    ) -> Iterator[DuckDBSession]:
        # Snapshots whose files are known are read as Parquet; only the others need the
        # iceberg extension, and so may tables staged later in the session (an empty
        # snapshot has no files to read).
        planned = any(
            isinstance(binding.relation, TableScan) and not binding.relation.files
            for binding in bindings
        )
        connection = self.connect(iceberg=planned or bool(also_readable))
        try:
            files, folders = _readable(bindings)
            folders |= {_folder(location) for location in also_readable}
            # Locked before anything a user declared reaches the connection: a view over a
            # source reads its file as it is created.
            _lock(connection, files=files, folders=folders)
            session = DuckDBSession(connection, bindings)
            for binding in bindings:
                session.bind(binding)
            yield session
        finally:
            connection.close()

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
    def __init__(self, connection: duckdb.DuckDBPyConnection, bindings: Sequence[Binding]) -> None:
        self.connection = connection
        self.bindings = list(bindings)
        self._catalogs: set[str] = set()
        self._schemas: set[tuple[str, str]] = set()

    def refusals(self) -> AbstractContextManager[None]:
        """Engine errors as `QueryRefused`, without data values or absolute paths."""
        return _refusals(self.bindings, self.connection)

    def _relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        with self.refusals():
            return self.connection.sql(sql)

    def bind(self, binding: Binding) -> None:
        """Create the binding's views: a view over a source reads (sniffs) its files now."""
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
        try:
            with self.refusals():
                for name in binding.names:
                    target = self._target(name)
                    self.connection.execute(f"CREATE VIEW {target} AS SELECT * FROM {scan}")
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

    def to_arrow(self, sql: str) -> pa.Table:
        with self.refusals():
            return self._relation(sql).to_arrow_table()

    def stream(self, sql: str) -> pa.RecordBatchReader:
        storable = _storable_select(f"({sql})", self.columns(sql))
        with self.refusals():
            return self._relation(storable).to_arrow_reader(batch_size=256 * 1024)

    def run_python(self, function: Callable[..., Any]) -> dict[str, str]:
        result = function(Inputs(self.connection, self.bindings))
        outputs = result if isinstance(result, dict) else {"": result}
        queries: dict[str, str] = {}
        for index, (port, value) in enumerate(outputs.items()):
            view = f"__quanta_output_{index}"
            if isinstance(value, duckdb.DuckDBPyRelation):
                value.create_view(view)
            elif isinstance(value, pa.Table | pa.RecordBatchReader):
                self.connection.register(view, value)
            else:
                raise TypeError(
                    f"the transformation returned {type(value).__name__} for port "
                    f"{port or 'output'}: return a pyarrow Table or a DuckDB relation "
                    "(or a dict of them, one per port)"
                )
            queries[port] = f"SELECT * FROM {quote(view)}"
        return queries


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
            raise KeyError(f"{name!r} is not an input of this product: use one of {self.names}")
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
        shown = duckdb_errors.message(type(error).__name__, str(error), _labels(bindings))
        if isinstance(error, duckdb.BinderException) and connection is not None:
            shown += _source_columns(bindings, connection)
        raise QueryRefused(f"the query failed: {shown}") from None


def _source_columns(bindings: Sequence[Binding], connection: duckdb.DuckDBPyConnection) -> str:
    """The columns each source file was read with: a file without a header reads as column0."""
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
        columns = ", ".join(column[0] for column in described or [])
        found.append(f"{'.'.join(name)} ({relation.label}) has columns {columns}")
    return f"; {'; '.join(found)}" if found else ""
