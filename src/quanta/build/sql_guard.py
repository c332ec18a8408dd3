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
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    known = {tuple(part.lower() for part in name) for name in visible}
    problems: list[SqlProblem] = []
    for table in statement.find_all(exp.Table):
        problem = _table_problem(table, ctes, known)
        if problem is not None:
            problems.append(problem)
    return problems


def _table_problem(
    table: exp.Table, ctes: set[str], known: set[tuple[str, ...]]
) -> SqlProblem | None:
    line = _line(table)
    if isinstance(table.this, exp.Func):
        name = (
            table.this.sql_name().lower()
            if not isinstance(table.this, exp.Anonymous)
            else str(table.this.this).lower()
        )
        if name in GENERATORS:
            return None
        return SqlProblem(
            f"reading through the table function {name}() is not allowed",
            "declare the file as a source input port and select from the port's name",
            line,
        )
    parts = tuple(p.lower() for p in (table.catalog, table.db, table.name) if p)
    if len(parts) == 1 and parts[0] in ctes:
        return None
    if parts in known:
        return None
    shown = ".".join(parts)
    if any(ch in shown for ch in "/\\") or shown.endswith((".csv", ".parquet", ".json")):
        return SqlProblem(
            f"the SQL reads the file {shown!r} directly",
            "declare it as a source input port and select from the port's name",
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
