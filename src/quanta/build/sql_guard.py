"""Refuse SQL that reads anything but what a product declared, before it runs.

Product SQL is DuckDB's dialect, and the guard reads it with DuckDB's own parser (its parse
tree, as ``json_serialize_sql`` gives it), so what is checked is what the engine will run.
Everything is allowed by name, nothing by omission:

- one statement, and a query;
- relations: the declared names, and CTEs where they are in scope (any other name would be
  read as a file path by DuckDB);
- table functions: the generators of `sql_functions.TABLE_FUNCTIONS`, in any position
  (``FROM``, ``JOIN``, ``LATERAL``);
- every other function call, anywhere in the query: `sql_functions.ALLOWED`, by its name
  alone;
- only the kinds of expression, table reference and query the guard knows.

It is the readable first line of defence: it names the offending part and its line. The
engine's sandbox (no file outside the declared inputs) is the second.
"""

from __future__ import annotations

import functools
import json
import re
import string
import sys
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from quanta.build.sql_functions import ALLOWED, TABLE_FUNCTIONS


@dataclass(frozen=True)
class SqlProblem:
    message: str
    hint: str
    line: int | None = None


EXPRESSIONS = frozenset(
    {
        "BETWEEN",
        "CASE",
        "CAST",
        "COLLATE",
        "COLUMN_REF",
        "COMPARISON",
        "CONJUNCTION",
        "CONSTANT",
        "FUNCTION",
        "LAMBDA",
        "LAMBDA_REF",
        "OPERATOR",
        "POSITIONAL_REFERENCE",
        "STAR",
        "SUBQUERY",
        "TYPE",
        "WINDOW",
    }
)
"""Expression classes of DuckDB's parse tree that a query may use (TYPE: the parameters of
a type, ENUM('a', 'b') inside a list type; what it holds is walked like the rest)."""

QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
TABLE_REFERENCES = frozenset(
    {"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EXPRESSION_LIST", "EMPTY", "PIVOT"}
)
REFUSED_REFERENCES = {"SHOW_REF": "DESCRIBE, SHOW and SUMMARIZE"}
PARTS = frozenset(
    {
        "ORDER_MODIFIER",
        "LIMIT_MODIFIER",
        "LIMIT_PERCENT_MODIFIER",
        "DISTINCT_MODIFIER",
        "ORDER_DEFAULT",
        "ASCENDING",
        "DESCENDING",
    }
)
"""Other typed parts of a query: its modifiers and sort orders (type infos end in _TYPE_INFO)."""

NO_LOCATION = 2**64 - 1
DEEPEST = 10_000
QUERY_WORDS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE"})

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(name: str) -> str:
    """A name as DuckDB compares names: ASCII letters in any case, every other character as
    it is (Python's lower() would make the Kelvin sign K a k, where DuckDB keeps them apart).
    """
    return name.translate(_ASCII_LOWER)


def check_sql(
    sql: str, visible: Collection[tuple[str, ...]], *, purpose: str = "a transformation"
) -> list[SqlProblem]:
    """Problems that keep ``sql`` from running when only ``visible`` relation names exist.

    Names in ``visible`` are tuples of lowercase parts: ``("orders",)`` or
    ``("checkout", "orders")``.
    """
    with _deep_enough():
        parsed = _parse(sql, purpose)
        if isinstance(parsed, SqlProblem):
            return [parsed]
        guard = _Guard(sql, {tuple(_fold(part) for part in name) for name in visible}, purpose)
        try:
            guard.query(parsed, frozenset())
        except RecursionError:
            return [_too_deep()]
    return guard.problems


@contextmanager
def _deep_enough() -> Iterator[None]:
    """Room to walk what DuckDB parses: its expressions nest up to 1,000 levels deep, which
    takes more than Python's default recursion limit to read back and walk."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, DEEPEST))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def reads_any(sql: str, columns: Collection[str]) -> bool:
    """Whether the query may read any of ``columns``: True unless it provably does not.

    A column counts as read wherever it is named (a projection, a filter, a join): even a
    count over a filter on a column tells something about its values. Shapes that reach
    columns without naming them count as reading every column: ``*`` and ``COLUMNS(...)``,
    positional references, a relation used as a value (``SELECT t FROM t``), column aliases
    given to a relation (``FROM t AS x(a, b)`` renames by position), NATURAL joins and PIVOT;
    ``JOIN ... USING (c)`` reads ``c``.
    """
    names = {column.lower() for column in columns}
    if not names:
        return False
    with _deep_enough():
        parsed = _parse(sql, "a query")
    if isinstance(parsed, SqlProblem):
        return True
    relations: set[str] = set()
    references: list[list[str]] = []
    try:
        nodes = list(_nodes(parsed))
    except RecursionError:
        return True
    for node in nodes:
        kind = node.get("class") or node.get("type")
        if not isinstance(kind, str):
            kind = ""  # a part typed by a mapping (a sample's options): no node kind
        if kind in ("STAR", "POSITIONAL_REFERENCE", "PIVOT"):
            return True
        if node.get("column_name_alias") or (node.get("aliases") and "query" in node):
            return True
        if kind == "JOIN":
            # Joins by name compare columns no expression names: USING (email), NATURAL.
            if node.get("ref_type") == "NATURAL":
                return True
            references.extend([str(name).lower()] for name in node.get("using_columns") or [])
        if kind == "COLUMN_REF":
            references.append([str(part).lower() for part in node.get("column_names", [])])
        if kind in ("FUNCTION", "WINDOW"):
            # email.lower() names the column email as the function's schema.
            qualifier = [str(node[key]).lower() for key in ("catalog", "schema") if node.get(key)]
            if qualifier:
                references.append(qualifier)
        if kind in TABLE_REFERENCES or kind in QUERY_NODES:
            for key in ("alias", "table_name", "cte_name"):
                if node.get(key):
                    relations.add(str(node[key]).lower())
        for entry in (node.get("cte_map") or {}).get("map", []):
            relations.add(str(entry.get("key", "")).lower())
    for parts in references:
        if names & set(parts) or (len(parts) == 1 and parts[0] in relations):
            return True
    return False


def selected_width(sql: str) -> int | None:
    """How many columns the query returns, or None when it cannot be told (``*``)."""
    with _deep_enough():
        parsed = _parse(sql, "a query")
    if isinstance(parsed, SqlProblem):
        return None
    return _width(parsed, {})


def _width(node: dict[str, Any], ctes: dict[str, Any]) -> int | None:
    ctes = dict(ctes)
    for entry in (node.get("cte_map") or {}).get("map", []):
        body = (entry.get("value") or {}).get("query") or {}
        ctes[_fold(str(entry.get("key", "")))] = body.get("node")
    while node.get("type") in ("SET_OPERATION_NODE", "RECURSIVE_CTE_NODE"):
        node = node["left"]
    selected = node.get("select_list", [])
    if not any(item.get("class") == "STAR" for item in selected):
        return len(selected)
    star = selected[0]
    plain = not (star.get("columns") or star.get("exclude_list") or star.get("replace_list"))
    source = node.get("from_table") or {}
    if len(selected) != 1 or not plain or star.get("relation_name"):
        return None
    # SELECT * FROM (one query), or FROM a CTE: as wide as that query.
    if source.get("type") == "SUBQUERY":
        return _width((source.get("subquery") or {}).get("node") or {}, ctes)
    if source.get("type") == "BASE_TABLE" and not source.get("schema_name"):
        inner = ctes.get(_fold(str(source.get("table_name", ""))))
        return _width(inner, ctes) if isinstance(inner, dict) else None
    return None


# -- parsing --------------------------------------------------------------------------------

MAX_SQL_BYTES = 256 * 1024
"""The longest SQL the guard reads: a query or a transformation is far shorter."""

_parsers = threading.local()


def _parse(sql: str, purpose: str) -> dict[str, Any] | SqlProblem:
    """The one query of ``sql`` as DuckDB parses it, or why there is no such query."""
    if "\x00" in sql:
        # DuckDB's parser reads up to a NUL and no further: what follows would go unchecked.
        return SqlProblem(f"{purpose} holds a NUL character", "remove it")
    size = len(sql.encode("utf-8", "surrogatepass"))
    if size > MAX_SQL_BYTES:
        return SqlProblem(
            f"{purpose} is {size:,} bytes, over the limit of {MAX_SQL_BYTES:,}",
            "make it shorter: move repeated parts into CTEs",
        )
    try:
        tree = _serialized(sql)
    except RecursionError:
        return _too_deep()
    if tree.get("error"):
        if tree.get("error_type") == "parser":
            where = str(tree.get("position", ""))
            return SqlProblem(
                f"the SQL does not parse: {tree.get('error_message', 'syntax error')}",
                "fix the syntax near the marked place",
                _line(sql, int(where)) if where.isdigit() else None,
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


def _too_deep() -> SqlProblem:
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


def _line(sql: str, offset: int) -> int | None:
    """The 1-based line of a position DuckDB gives (a byte offset into the UTF-8 text)."""
    if offset == NO_LOCATION or offset < 0:
        return None
    return sql.encode("utf-8")[:offset].count(b"\n") + 1


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
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


# -- the checks -----------------------------------------------------------------------------


@dataclass
class _Guard:
    sql: str
    known: set[tuple[str, ...]]
    purpose: str
    problems: list[SqlProblem] = field(default_factory=list)

    def refuse(self, node: dict[str, Any], message: str, hint: str) -> None:
        location = node.get("query_location")
        line = _line(self.sql, int(location)) if isinstance(location, int) else None
        self.problems.append(SqlProblem(message, hint, line))

    def walk(self, value: Any, ctes: frozenset[str]) -> None:
        if isinstance(value, list):
            for item in value:
                self.walk(item, ctes)
            return
        if not isinstance(value, dict):
            return
        if "class" in value:
            self.expression(value, ctes)
            return
        kind = value.get("type")
        if not isinstance(kind, str):
            self.children(value, ctes)
        elif kind in QUERY_NODES:
            self.query(value, ctes)
        elif kind in TABLE_REFERENCES or kind in REFUSED_REFERENCES:
            self.table(value, ctes)
        elif kind in PARTS or kind.endswith("_TYPE_INFO"):
            self.children(value, ctes)
        else:
            self.refuse(
                value, f"the SQL uses {kind.lower()}, which Quanta does not run", "simplify it"
            )

    def children(self, value: dict[str, Any], ctes: frozenset[str], *skip: str) -> None:
        for key, item in value.items():
            if key not in skip:
                self.walk(item, ctes)

    def query(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        kind = node.get("type")
        if kind not in QUERY_NODES:
            self.refuse(node, f"{self.purpose} may only read data", "write a SELECT query")
            return
        # A CTE is visible in the CTEs after it and in the query's body; a recursive one
        # also inside itself. Anywhere else its name is a real relation (or a file path).
        scope = ctes
        for entry in (node.get("cte_map") or {}).get("map", []):
            body = (entry.get("value") or {}).get("query") or {}
            self.walk(body.get("node"), scope)
            scope = scope | {_fold(str(entry.get("key", "")))}
        if kind == "RECURSIVE_CTE_NODE":
            # Only the recursive part reads the CTE: DuckDB binds the anchor before the CTE
            # exists, where its name is any relation, or a file path. With USING KEY, the
            # recursive part also reads recurring.<name>, the CTE's rows so far.
            name = _fold(str(node.get("cte_name", "")))
            self.walk(node.get("left"), scope)
            self.walk(node.get("right"), scope | {name, f"recurring.{name}"})
            self.children(node, scope, "cte_map", "left", "right")
            return
        self.children(node, scope, "cte_map")

    def table(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        kind = node["type"]
        if kind in REFUSED_REFERENCES:
            self.refuse(node, f"{REFUSED_REFERENCES[kind]} are not allowed", "write a SELECT query")
            return
        if kind == "BASE_TABLE":
            self.relation(node, ctes)
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = _fold(str(function.get("function_name", "")))
            # By its name alone: its qualifier may be a column (x.f() calls f(x)), and every
            # function of a name lives in DuckDB's own schemas, as no user creates one.
            if function.get("class") != "FUNCTION" or name not in TABLE_FUNCTIONS:
                self.refuse(
                    node,
                    f"reading through the table function {name}() is not allowed",
                    self.declare_hint(),
                )
                return
            self.children(function, ctes)  # the arguments, not the generator's name
            self.children(node, ctes, "function")
            return
        self.children(node, ctes)

    def relation(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        parts = tuple(
            _fold(str(node[key]))
            for key in ("catalog_name", "schema_name", "table_name")
            if node.get(key)
        )
        self.children(node, ctes)
        if ".".join(parts) in ctes and (len(parts) == 1 or parts[0] == "recurring"):
            return
        if parts in self.known:
            return
        shown = ".".join(parts)
        in_query = self.purpose == "a query"
        if any(char in shown for char in "/\\") or shown.endswith((".csv", ".parquet", ".json")):
            hint = self.declare_hint()
            if not in_query:
                hint = hint.replace("declare the file as", "declare it as")
            self.refuse(node, f"the SQL reads the file {shown!r} directly", hint)
        elif in_query:
            self.refuse(
                node,
                f"no published product or port is called {shown!r}",
                "address products as domain.product or domain.product.port (see quanta list)",
            )
        else:
            names = ", ".join(".".join(name) for name in sorted(self.known)) or "none"
            self.refuse(
                node,
                f"the SQL reads {shown!r}, which is not declared",
                f"declare it as an input port; readable here: {names}",
            )

    def declare_hint(self) -> str:
        if self.purpose == "a query":
            return "read published products by name (see quanta list)"
        return "declare the file as a source input port and select from the port's name"

    def expression(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        kind = node["class"]
        if kind == "CONSTANT":
            return
        if kind not in EXPRESSIONS:
            what = {"PARAMETER": "a parameter ($1 or ?)", "DEFAULT": "DEFAULT"}.get(kind, kind)
            self.refuse(
                node,
                f"the SQL uses {what.lower() if what == kind else what}, which Quanta does "
                "not run here",
                "write the values into the query",
            )
            return
        if kind in ("FUNCTION", "WINDOW"):
            name = str(node.get("function_name", ""))
            # By its name alone: DuckDB parses email.lower() as lower qualified by a schema
            # "email", and calls lower(email); [1, 2] as main.list_value(1, 2).
            if _fold(name) not in ALLOWED:
                self.refuse(
                    node,
                    f"the function {name}() is not allowed",
                    "call functions that compute on the values of rows; this one reads "
                    "files, settings or the engine's state, or is unknown to Quanta",
                )
        self.children(node, ctes)
