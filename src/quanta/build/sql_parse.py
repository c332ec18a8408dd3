"""Product SQL as DuckDB's own parser reads it: its parse tree, or why there is none.

The tree is ``json_serialize_sql``'s, parsed on a connection that only ever parses (never
runs what a user wrote); the SQL guard (`sql_guard`) and what tells a query's columns
(`sql_columns`) both walk it. What a tree holds is named here too: the kinds of its query
nodes and table references.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb


@dataclass(frozen=True)
class SqlProblem:
    message: str
    hint: str
    line: int | None = None


QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
TABLE_REFERENCES = frozenset(
    {"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EXPRESSION_LIST", "EMPTY", "PIVOT"}
)

NO_LOCATION = 2**64 - 1
DEEPEST = 10_000
QUERY_WORDS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE"})
PARSER_TOO_DEEP = ("Max expression depth limit", "memory exhausted")
"""How DuckDB's parser says the SQL nests deeper than it reads (its own depth limit, or its
stack)."""


@contextmanager
def deep_enough() -> Iterator[None]:
    """Room to walk what DuckDB parses: its expressions nest up to 1,000 levels deep, which
    takes more than Python's default recursion limit to read back and walk."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, DEEPEST))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


MAX_SQL_BYTES = 256 * 1024
"""The longest SQL the guard reads: a query or a transformation is far shorter."""

_parsers = threading.local()


def parse(sql: str, purpose: str) -> dict[str, Any] | SqlProblem:
    """The one query of ``sql`` as DuckDB parses it, or why there is no such query."""
    if "\x00" in sql:
        # DuckDB's parser reads up to a NUL and no further: what follows would go unchecked.
        return SqlProblem(f"{purpose} holds a NUL character", "remove it")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as error:
        # A lone surrogate: bytes that are no UTF-8 (a shell argument decoded as Python
        # does) have no text DuckDB could be handed.
        return SqlProblem(
            f"{purpose} holds bytes that are not UTF-8 text (at character {error.start + 1})",
            "write the SQL as UTF-8 text",
        )
    size = len(sql.encode("utf-8"))
    if size > MAX_SQL_BYTES:
        return SqlProblem(
            f"{purpose} is {size:,} bytes, over the limit of {MAX_SQL_BYTES:,}",
            "make it shorter: move repeated parts into CTEs",
        )
    try:
        # Deep enough wherever it is asked from: what names the products a query reads
        # (`quanta.reading.ports`) reads the same trees the guard does.
        with deep_enough():
            tree = _serialized(sql)
    except RecursionError:
        return too_deep()
    if tree.get("error"):
        if str(tree.get("error_message", "")).startswith(PARSER_TOO_DEEP):
            return too_deep()  # its own words would have the user SET a limit
        if tree.get("error_type") == "parser":
            where = str(tree.get("position", ""))
            return SqlProblem(
                f"the SQL does not parse: {tree.get('error_message', 'syntax error')}",
                "fix the syntax near the marked place",
                line_of(sql, int(where)) if where.isdigit() else None,
            )
        kinds = _statement_kinds(sql)
        # A PIVOT statement parses as two (it makes a type for its values first).
        if len(kinds) != 1 and _statement_word(sql) != "PIVOT":
            return _not_one(len(kinds), purpose)
        if kinds in (["SELECT"], [""]) and _statement_word(sql) in QUERY_WORDS:
            # A query DuckDB parses but cannot hand over as a tree: not checked, not run.
            return SqlProblem(
                f"Quanta cannot check this query: {tree.get('error_message', 'unknown')}",
                "write it another way",
            )
        return _not_a_query(sql, purpose, kinds[0] if kinds else "")
    statements = tree.get("statements", [])
    if len(statements) != 1:
        return _not_one(len(statements), purpose)
    node: dict[str, Any] = statements[0]["node"]
    if (node.get("from_table") or {}).get("type") == "SHOW_REF" and len(
        node.get("select_list", [])
    ) == 1:
        return _not_a_query(sql, purpose)  # DESCRIBE, SHOW, SUMMARIZE parse as queries
    return node


def too_deep() -> SqlProblem:
    return SqlProblem(
        "the SQL nests expressions too deeply for Quanta to check",
        "split long chains of operators or nested calls, e.g. into CTEs",
    )


def _parser() -> duckdb.DuckDBPyConnection:
    """This thread's parsing connection: it only parses, never runs what a user wrote."""
    connection: duckdb.DuckDBPyConnection | None = getattr(_parsers, "connection", None)
    if connection is None:
        connection = duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                # Parse trees of newer syntax (an ENUM inside a list type) serialize only
                # in the newest format; the tree is read here, never stored.
                "storage_compatibility_version": "latest",
                "lock_configuration": True,
            },
        )
        _parsers.connection = connection
    return connection


def _serialized(sql: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_parse_tree(sql))
    return result


@functools.lru_cache(maxsize=512)
def _parse_tree(sql: str) -> str:
    """DuckDB's parse tree of ``sql`` as JSON text: a SQL rule is checked, sized and read for
    private columns from one parse (and again at every check), so it is kept."""
    row = _parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    return str(row[0]) if row else '{"error": true}'


def _statement_kinds(sql: str) -> list[str]:
    """The kind of each statement of ``sql`` (SELECT, INSERT, CALL, ...), as DuckDB sees it."""
    try:
        return [str(s.type.name) for s in _parser().extract_statements(sql)]
    except (duckdb.Error, IndexError, AttributeError):
        return [""]  # it parsed as one statement a moment ago


def _not_one(count: int, purpose: str) -> SqlProblem:
    return SqlProblem(
        f"{purpose} must be exactly one SELECT statement, found {count}",
        "keep a single query (CTEs are fine)",
    )


def _not_a_query(sql: str, purpose: str, kind: str = "") -> SqlProblem:
    word = _statement_word(sql)
    if word == "WITH" and kind:
        word = kind  # WITH ... INSERT: the statement is the INSERT
    return SqlProblem(
        f"{purpose} may only read data, but this statement is {word}",
        "write SELECT * FROM ... PIVOT (...)" if word == "PIVOT" else "write a SELECT query",
        sql[: len(sql) - len(_without_comments(sql))].count("\n") + 1,
    )


def _without_comments(sql: str) -> str:
    """``sql`` from its first word on: leading blanks and comments dropped."""
    return re.sub(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", "", sql, flags=re.DOTALL)


def _statement_word(sql: str) -> str:
    found = re.match(r"[A-Za-z]+", _without_comments(sql))
    return found.group(0).upper() if found else "not a query"


def line_of(sql: str, offset: int) -> int | None:
    """The 1-based line of a position DuckDB gives (a byte offset into the UTF-8 text)."""
    if offset == NO_LOCATION or offset < 0:
        return None
    return sql.encode("utf-8")[:offset].count(b"\n") + 1


def all_nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in the parse tree (but the insides of constants)."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, list):
            pending.extend(current)
        elif isinstance(current, dict):
            yield current
            if current.get("class") != "CONSTANT":
                pending.extend(current.values())
