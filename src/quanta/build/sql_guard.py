"""Refuse SQL that reads anything but the relations a product declared, before it runs.

This is the readable first line of defence: it names the offending relation and its
line. The engine's sandbox (no file access outside the declared inputs) is the second.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.scope import traverse_scope

# Table functions that make rows out of nothing, and so read no data.
GENERATORS = frozenset({"range", "generate_series", "unnest"})


@dataclass(frozen=True)
class SqlProblem:
    message: str
    hint: str
    line: int | None = None


def check_sql(
    sql: str, visible: Collection[tuple[str, ...]], *, purpose: str = "a transformation"
) -> list[SqlProblem]:
    """Problems that keep ``sql`` from running when only ``visible`` relation names exist.

    Names in ``visible`` are tuples of lowercase parts: ``("orders",)`` or
    ``("checkout", "orders")``.
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        return [
            SqlProblem(
                f"the SQL does not parse: {first.get('description', error)}",
                "fix the syntax near the marked place",
                first.get("line"),
            )
        ]
    if len(statements) != 1:
        return [
            SqlProblem(
                f"{purpose} must be exactly one SELECT statement, found {len(statements)}",
                "keep a single query (CTEs are fine)",
            )
        ]
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        return [
            SqlProblem(
                f"{purpose} may only read data, but this statement is {statement.key.upper()}",
                "write a SELECT query",
            )
        ]
    known = {tuple(part.lower() for part in name) for name in visible}
    problems: list[SqlProblem] = []
    for table, ctes in _tables_in_scope(statement):
        problem = _table_problem(table, ctes, known, purpose)
        if problem is not None:
            problems.append(problem)
    return problems


def _tables_in_scope(statement: exp.Query) -> list[tuple[exp.Table, set[str]]]:
    """Every table reference with the CTE names visible where it stands.

    A CTE's name counts only inside the query that declares it: a name used outside that
    scope is a real relation (DuckDB would even read it as a file path).
    """
    found: list[tuple[exp.Table, set[str]]] = []
    seen: set[int] = set()
    try:
        for scope in traverse_scope(statement):
            ctes = {name.lower() for name in scope.cte_sources}
            for table in scope.tables:
                seen.add(id(table))
                found.append((table, ctes))
    except Exception:
        # Scope analysis gave up on this syntax: fall back to allowing no CTE names at all.
        found, seen = [], set()
    # Table functions and anything scope analysis left out are checked with no CTE names.
    for table in statement.find_all(exp.Table):
        if id(table) not in seen:
            found.append((table, set()))
    return found


def _table_problem(
    table: exp.Table, ctes: set[str], known: set[tuple[str, ...]], purpose: str
) -> SqlProblem | None:
    line = _line(table)
    in_query = purpose == "a query"
    declare = (
        "read published products by name (see quanta list)"
        if in_query
        else "declare the file as a source input port and select from the port's name"
    )
    if isinstance(table.this, exp.Func):
        name = (
            table.this.sql_name().lower()
            if not isinstance(table.this, exp.Anonymous)
            else str(table.this.this).lower()
        )
        if name in GENERATORS:
            return None
        return SqlProblem(
            f"reading through the table function {name}() is not allowed", declare, line
        )
    parts = tuple(p.lower() for p in (table.catalog, table.db, table.name) if p)
    if len(parts) == 1 and parts[0] in ctes:
        return None
    if parts in known:
        return None
    shown = ".".join(parts)
    if any(ch in shown for ch in "/\\") or shown.endswith((".csv", ".parquet", ".json")):
        hint = declare if in_query else declare.replace("declare the file as", "declare it as")
        return SqlProblem(f"the SQL reads the file {shown!r} directly", hint, line)
    if in_query:
        return SqlProblem(
            f"no published product or port is called {shown!r}",
            "address products as domain.product or domain.product.port (see quanta list)",
            line,
        )
    names = ", ".join(".".join(name) for name in sorted(known)) or "none"
    return SqlProblem(
        f"the SQL reads {shown!r}, which is not declared",
        f"declare it as an input port; readable here: {names}",
        line,
    )


def _line(table: exp.Table) -> int | None:
    for node in (table.args.get("catalog"), table.args.get("db"), table.this):
        if isinstance(node, exp.Expression) and "line" in node.meta:
            return int(node.meta["line"])
    return None
