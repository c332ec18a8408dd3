"""The embedded engine: DuckDB, with extensions loaded from their pinned PyPI packages."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from quanta.errors import ConfigError, QueryRefused, first_line
from quanta.model.relations import Binding, Relation, TableScan
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
        self,
        bindings: Sequence[Binding],
        *,
        sandboxed: bool = True,
        also_readable: Sequence[str] = (),
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
            with _refusals():
                allowed = _bind(connection, bindings)
            allowed.update(_folder(location) for location in also_readable)
            if sandboxed:
                directories = sorted(path for path in allowed if path.endswith("/"))
                files = sorted(path for path in allowed if not path.endswith("/"))
                connection.execute(f"SET allowed_directories = {literal(directories)}")
                connection.execute(f"SET allowed_paths = {literal(files)}")
                connection.execute("SET enable_external_access = false")
                connection.execute("SET lock_configuration = true")
            yield DuckDBSession(connection, bindings)
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
            for name, value in variables.items():
                connection.execute(f"SET VARIABLE {quote(name)} = {literal(value)}")
            try:
                connection.execute(f"COPY ({sql}) TO {literal(str(path))} ({options})")
            except duckdb.Error as error:
                raise ConfigError(f"cannot write {path.name}: {first_line(error)}") from None
            count = connection.execute(
                f"SELECT count(*) FROM read_{path.suffix.lower().lstrip('.')}({literal(str(path))})"
            ).fetchone()
        finally:
            connection.close()
        return int(count[0]) if count else 0


def _scan_sql(relation: Relation) -> str:
    if isinstance(relation, TableScan) and relation.files:
        return f"read_parquet({literal(list(relation.files))})"
    if isinstance(relation, TableScan):
        return (
            f"iceberg_scan({literal(relation.metadata_location)}, "
            f"snapshot_from_id => {relation.snapshot_id})"
        )
    reader = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}[relation.format]
    options = "".join(f", {key} => {literal(value)}" for key, value in relation.options.items())
    return f"{reader}({literal(relation.path)}{options})"


def _folder(location: str) -> str:
    return location.removeprefix("file://").rstrip("/") + "/"


def _allowed_path(relation: Relation) -> str:
    if isinstance(relation, TableScan):
        return _folder(relation.location)
    path = relation.path
    for index, char in enumerate(path):
        if char in "*?[":
            return path[: path.rfind("/", 0, index) + 1] or "./"
    return path


def _bind(connection: duckdb.DuckDBPyConnection, bindings: Sequence[Binding]) -> set[str]:
    catalogs: set[str] = set()
    schemas: set[tuple[str, str]] = set()
    allowed: set[str] = set()
    for binding in bindings:
        scan = _scan_sql(binding.relation)
        allowed.add(_allowed_path(binding.relation))
        for name in binding.names:
            if len(name) == 1:
                target = quote(name[0])
            else:
                catalog, schema = name[0], "main" if len(name) == 2 else name[1]
                if catalog not in catalogs:
                    connection.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {quote(catalog)}")
                    catalogs.add(catalog)
                if schema != "main" and (catalog, schema) not in schemas:
                    connection.execute(
                        f"CREATE SCHEMA IF NOT EXISTS {quote(catalog)}.{quote(schema)}"
                    )
                    schemas.add((catalog, schema))
                target = f"{quote(catalog)}.{quote(schema)}.{quote(name[-1])}"
            connection.execute(f"CREATE VIEW {target} AS SELECT * FROM {scan}")
    return allowed


class DuckDBSession:
    def __init__(self, connection: duckdb.DuckDBPyConnection, bindings: Sequence[Binding]) -> None:
        self.connection = connection
        self.bindings = bindings

    def _relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        with _refusals():
            return self.connection.sql(sql)

    def bind(self, binding: Binding) -> None:
        with _refusals():
            _bind(self.connection, [binding])

    def columns(self, sql: str) -> list[tuple[str, str]]:
        relation = self._relation(sql)
        return [
            (name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
        ]

    def to_arrow(self, sql: str) -> pa.Table:
        with _refusals():
            return self._relation(sql).to_arrow_table()

    def stream(self, sql: str) -> pa.RecordBatchReader:
        storable = _storable_select(f"({sql})", self.columns(sql))
        with _refusals():
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
        self.names = sorted(".".join(name) for binding in bindings for name in binding.names)

    def __getitem__(self, name: str) -> duckdb.DuckDBPyRelation:
        if name not in self.names:
            raise KeyError(f"{name!r} is not an input of this product: use one of {self.names}")
        return self._connection.sql(f"SELECT * FROM {'.'.join(quote(p) for p in name.split('.'))}")

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        with _refusals():
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
def _refusals() -> Iterator[None]:
    """DuckDB's errors about a query, as Quanta's: the sandbox's, then any other."""
    try:
        yield
    except duckdb.PermissionException as error:
        raise QueryRefused(
            f"the query tried to read outside its declared inputs: {first_line(error)}"
        ) from None
    except duckdb.Error as error:
        raise QueryRefused(f"the query failed: {first_line(error)}") from None
