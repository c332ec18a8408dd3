"""The SQL a DuckDB session writes itself: scans of what it binds, the select lists of its
views, and the casts that make a result storable. Names and values in it are quoted here,
never by a caller."""

from __future__ import annotations

from quanta.errors import QueryRefused
from quanta.model.relations import DatabaseTable, Exposed, Relation, TableScan
from quanta.model.sources import SOURCE_OPTIONS, option_value_fits
from quanta.model.types import storable_type
from quanta.sql_text import literal, quote

DEFAULT_SCHEMAS = {"duckdb": "main", "sqlite": "main", "postgres": "public"}


def scan_sql(relation: Relation) -> str:
    if isinstance(relation, TableScan) and relation.files:
        return f"read_parquet({literal(list(relation.files))})"
    if isinstance(relation, TableScan):
        return (
            f"iceberg_scan({literal(relation.metadata_location)}, "
            f"snapshot_from_id => {int(relation.snapshot_id)})"
        )
    if isinstance(relation, DatabaseTable):
        schema = relation.schema or DEFAULT_SCHEMAS[relation.kind]
        return f"{quote(relation.database)}.{quote(schema)}.{quote(relation.table)}"
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


def projection(columns: tuple[Exposed, ...]) -> str:
    """The select list of a view that shows exactly ``columns``."""
    assert columns, "the read path binds a port with at least one column, or not at all"
    return ", ".join(
        quote(c.name) if c.expression is None else f"{c.expression} AS {quote(c.name)}"
        for c in columns
    )


def storable_select(source: str, columns: list[tuple[str, str]]) -> str:
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
