"""DuckDB's errors during a user's work, as Quanta's: whose they are, in words safe to show.

The user's (`duckdb_errors.USER_ERRORS`: their SQL, or the data it reads, is wrong) are
refused: `QueryRefused`, a user error. Any other is the engine itself failing: a
`PlatformError` that says so and why. Messages never carry values from the data nor
absolute paths (`duckdb_errors`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import duckdb

from quanta.engines import duckdb_errors
from quanta.engines.duckdb_sandbox import folder
from quanta.errors import PlatformError, QueryRefused
from quanta.model.relations import Binding, DatabaseTable, FileScan
from quanta.sql_text import quote

TOO_DEEP = "Max expression depth limit of"
"""How DuckDB's binder begins to say a query nests deeper than it binds."""


@contextmanager
def refusals(
    bindings: Sequence[Binding] = (),
    connection: duckdb.DuckDBPyConnection | None = None,
    *,
    places: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """DuckDB's errors about a query as Quanta's: the sandbox's, the user's, the engine's.

    ``places`` names the engine's own folders (its extensions, its scratch files), which a
    message shows by those names, never as absolute paths."""
    try:
        yield
    except duckdb.Error as error:
        raise refused(type(error).__name__, str(error), bindings, connection, places) from None
    except OSError as error:
        # An error while an Arrow stream of the engine is read: DuckDB's message, which
        # may hold values, in an OSError; its first words name the kind of error.
        text = str(error)
        kind = duckdb_errors.kind_named(text) or type(error).__name__
        raise refused(kind, text, bindings, connection, places) from None


def refused(
    kind: str,
    text: str,
    bindings: Sequence[Binding] = (),
    connection: duckdb.DuckDBPyConnection | None = None,
    places: Mapping[str, str] | None = None,
) -> QueryRefused | PlatformError:
    """The error to raise for DuckDB's error of class ``kind`` with the message ``text``."""
    paths = dict(places or {}) | labels(bindings)
    if kind not in duckdb_errors.USER_ERRORS:
        # The connection is not asked anything more: it is what failed.
        return PlatformError(duckdb_errors.failure(kind, text, paths))
    if kind == "PermissionException":
        shown = duckdb_errors.message(kind, text, paths)
        return QueryRefused(f"the query tried to read outside its declared inputs: {shown}")
    if TOO_DEEP in text:
        # DuckDB's words would have the user SET a limit, which no query may.
        return QueryRefused(
            "the query nests expressions or types more deeply than the engine binds "
            "(1,000 levels): split it, e.g. into CTEs"
        )
    shown = duckdb_errors.message(kind, text, paths, column_names(connection))
    if kind == "BinderException" and connection is not None:
        shown += source_columns(bindings, connection)
    return QueryRefused(f"the query failed: {shown}")


def labels(bindings: Sequence[Binding]) -> dict[str, str]:
    """How messages name the files a session reads: as declared, or by the relation's name."""
    found: dict[str, str] = {}
    for binding in bindings:
        relation = binding.relation
        name = ".".join(binding.names[-1]) if binding.names else "an input"
        if isinstance(relation, FileScan):
            for path in relation.paths:
                found[path] = relation.label or name
            continue
        if isinstance(relation, DatabaseTable):
            found[relation.location] = f"the database of {relation.label or name}"
            continue
        for path in relation.files or ():
            found[path] = f"a data file of {name}"
        found[folder(relation.location).rstrip("/")] = f"the table of {name}"
        found[relation.metadata_location.removeprefix("file://")] = f"the metadata of {name}"
    return found


def column_names(connection: duckdb.DuckDBPyConnection | None) -> frozenset[str]:
    """The columns of the session's relations: the only column names a message may show."""
    if connection is None:
        return frozenset()
    try:
        rows = connection.execute("SELECT DISTINCT column_name FROM duckdb_columns()").fetchall()
    except duckdb.Error:
        return frozenset()
    return frozenset(str(row[0]) for row in rows)


def source_columns(bindings: Sequence[Binding], connection: duckdb.DuckDBPyConnection) -> str:
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
