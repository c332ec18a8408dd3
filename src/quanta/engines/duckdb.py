"""The embedded engine: DuckDB, with extensions loaded from their pinned PyPI packages.

A session (`duckdb_session`) is sandboxed (`duckdb_sandbox`) before anything a user wrote
reaches it; its errors are told apart as the user's or the engine's (`duckdb_refusals`).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from quanta.engines import Limits, processes
from quanta.engines.duckdb_sandbox import close_descriptors, folder, lock, opened, readable
from quanta.engines.duckdb_session import DuckDBSession
from quanta.errors import ConfigError, QueryRefused, first_line
from quanta.model.relations import Binding, DatabaseTable, FileScan, TableScan
from quanta.product_files import OutsideFolder, allow_open
from quanta.sql_text import literal, quote

if TYPE_CHECKING:
    from quanta.governance.keys import KeyStore

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
        scratch_directory: Path | None = None,
    ) -> None:
        self.extension_directory = extension_directory
        self.memory_limit = memory_limit
        self.threads = threads
        # Python transformations hand their tables over as files in here; the system's
        # temporary folder (the default) may be too small for them.
        self.scratch_directory = scratch_directory
        self.keys: KeyStore | None = None
        """The mesh's keys, to decrypt what the read path shows in clear; None: nothing
        this engine reads is decrypted (a build's engine)."""

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
        if iceberg:
            _load(connection, EXTENSIONS)
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
        allow_open(sum(len(b.relation.paths) for b in bindings if isinstance(b.relation, FileScan)))
        try:
            # Source files are read through descriptors opened now, beneath their folder:
            # a link someone swaps in later cannot redirect a read.
            bindings = [opened(binding, descriptors) for binding in bindings]
        except OutsideFolder as error:
            close_descriptors(descriptors)
            raise QueryRefused(f"the source {error}") from None
        connection = self.connect(iceberg=planned or bool(also_readable))
        if self.keys is not None and _decrypts(bindings):
            from quanta.engines.duckdb_protection import register_decrypt
            from quanta.governance.crypto import encryption_key

            register_decrypt(connection, encryption_key(self.keys, create=False))
        spill = processes.scratch(self.scratch_directory)
        session = DuckDBSession(
            connection, bindings, engine=self, limits=limits, descriptors=descriptors
        )
        session.add_scratch(spill)
        try:
            # DuckDB's own temporary files go here, not into ./.tmp (which its sandbox
            # would then let queries read).
            connection.execute(f"SET temp_directory = {literal(str(spill))}")
            # Databases are opened read-only while the connection may still open them.
            _attach(connection, bindings)
            files, folders = readable(bindings)
            folders |= {folder(location) for location in also_readable}
            # Locked before anything a user declared reaches the connection: a view over a
            # source reads its file as it is created.
            lock(connection, files=files, folders=folders)
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
            lock(connection, files=set(), folders={folder(str(path.parent.resolve()))})
            for name, value in variables.items():
                connection.execute(f"SET VARIABLE {quote(name)} = {literal(value)}")
            target = literal(str(path.resolve()))
            try:
                # COPY answers the rows it wrote: reading the file back to count them would
                # take its path as a pattern (a folder ``runs[1]`` reads ``runs1``).
                count = connection.execute(f"COPY ({sql}) TO {target} ({options})").fetchone()
            except duckdb.Error as error:
                raise ConfigError(f"cannot write {path.name}: {first_line(error)}") from None
        finally:
            connection.close()
        return int(count[0]) if count else 0


def _load(connection: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Load extensions from their pinned packages (installed into the extension folder once)."""
    installed = {
        row[0]
        for row in connection.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE installed"
        ).fetchall()
    }
    for name in names:
        if name not in installed:
            connection.execute(f"INSTALL {literal(str(_extension_file(name)))}")
        connection.execute(f"LOAD {name}")


DATABASES: dict[str, tuple[str, str | None]] = {
    "duckdb": ("", None),
    "sqlite": ("sqlite", "sqlite_scanner"),
    "postgres": ("postgres", "postgres_scanner"),
}
"""How each kind of `DatabaseTable` is attached: its ATTACH type and extension."""


def _attach(connection: duckdb.DuckDBPyConnection, bindings: Sequence[Binding]) -> None:
    """Attach, read-only, the databases of the bindings' `DatabaseTable` relations."""
    attached: set[str] = set()
    for binding in bindings:
        relation = binding.relation
        if not isinstance(relation, DatabaseTable):
            continue
        if relation.database in attached:
            _only_stored(connection, relation)
            _named_apart(connection, relation)
            continue
        kind, extension = DATABASES[relation.kind]
        if extension is not None:
            _load(connection, (extension,))
        options = f"TYPE {kind}, READ_ONLY" if kind else "READ_ONLY"
        try:
            connection.execute(
                f"ATTACH {literal(relation.location)} AS {quote(relation.database)} ({options})"
            )
        except duckdb.Error as error:
            raise QueryRefused(
                f"cannot open the {relation.kind} database of {relation.label}: "
                f"{_attach_problem(first_line(error), relation)}"
            ) from None
        attached.add(relation.database)
        _only_stored(connection, relation)
        _named_apart(connection, relation)


def _named_apart(connection: duckdb.DuckDBPyConnection, relation: DatabaseTable) -> None:
    """Refuse a PostgreSQL table with two columns named alike but for case (``"ID"`` and
    ``id``): the engine's names are case-insensitive, and it would rename the second out
    of sight. Asked of the server itself, as the engine shows only the renamed columns."""
    if relation.kind != "postgres":
        return

    def text(value: str) -> str:  # a PostgreSQL string literal
        return "'" + value.replace("'", "''") + "'"

    asked = (
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = "
        f"{text(relation.schema or 'public')} AND table_name = {text(relation.table)}"
    )
    try:
        names = [
            str(row[0])
            for row in connection.execute(
                f"SELECT * FROM postgres_query({literal(relation.database)}, {literal(asked)})"
            ).fetchall()
        ]
    except duckdb.Error:
        return  # the server would not say: reading the table reports why
    if len({name.casefold() for name in names}) < len(names):
        raise QueryRefused(
            f"{relation.label} names two columns alike but for case: Quanta tells column "
            "names apart regardless of case; give each column its own name"
        )


def _only_stored(connection: duckdb.DuckDBPyConnection, relation: DatabaseTable) -> None:
    """Refuse a DuckDB database's view, or table with generated columns: reading either
    runs SQL its author wrote inside this session (its settings, its catalog), which no
    guard has checked. Other databases run their views themselves."""
    if relation.kind != "duckdb":
        return
    where = (
        f"database_name = {literal(relation.database)} "
        f"AND lower(schema_name) = lower({literal(relation.schema or 'main')})"
    )
    found = connection.execute(
        f"SELECT (SELECT count(*) FROM duckdb_views() WHERE {where} "
        f"AND lower(view_name) = lower({literal(relation.table)})), "
        f"(SELECT any_value(sql) FROM duckdb_tables() WHERE {where} "
        f"AND lower(table_name) = lower({literal(relation.table)}))"
    ).fetchone()
    views, definition = found if found is not None else (0, None)
    if views:
        raise QueryRefused(
            f"{relation.label} is a view: Quanta reads the tables of a DuckDB database, not "
            "its views (their SQL would run unchecked); check the table the view reads"
        )
    if definition is not None and "GENERATED ALWAYS" in str(definition).upper():
        raise QueryRefused(
            f"{relation.label} has generated columns: Quanta reads only stored values of a "
            "DuckDB database (a generated column's SQL would run unchecked)"
        )


def _attach_problem(text: str, relation: DatabaseTable) -> str:
    """The engine's reason a database would not open, in the contract's words: not the
    connection string or absolute path Quanta built, nor another program's process."""
    text = text.replace(relation.location, "it")
    if "Conflicting lock" in text or "Could not set lock" in text:
        return "another program has it open for writing; close it, or check a copy"
    # libpq's account: 'Unable to connect to Postgres at "...": why'
    return re.sub(r'Unable to connect to Postgres at "[^"]*":\s*', "", text)


def _decrypts(bindings: Sequence[Binding]) -> bool:
    """Whether a binding shows a column decrypted (`quanta.governance.protection`)."""
    from quanta.governance.protection import DECRYPT

    return any(
        DECRYPT in (column.expression or "")
        for binding in bindings
        for column in binding.columns or ()
    )
