"""What a query does with columns, told from its parse tree: whether it may read some
(`reads_any`), and how many it returns (`selected_width`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from quanta.build.sql_parse import (
    QUERY_NODES,
    TABLE_REFERENCES,
    SqlProblem,
    all_nodes,
    deep_enough,
    parse,
)
from quanta.sql_text import fold


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
    with deep_enough():
        parsed = parse(sql, "a query")
    if isinstance(parsed, SqlProblem):
        return True
    relations: set[str] = set()
    references: list[list[str]] = []
    try:
        nodes = list(all_nodes(parsed))
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
    with deep_enough():
        parsed = parse(sql, "a query")
    if isinstance(parsed, SqlProblem):
        return None
    return _width(parsed, {})


def _width(node: dict[str, Any], ctes: dict[str, Any]) -> int | None:
    ctes = dict(ctes)
    for entry in (node.get("cte_map") or {}).get("map", []):
        body = (entry.get("value") or {}).get("query") or {}
        ctes[fold(str(entry.get("key", "")))] = body.get("node")
    while node.get("type") in ("SET_OPERATION_NODE", "RECURSIVE_CTE_NODE"):
        # DuckDB 1.5 keeps a set operation's branches under children (left is null).
        node = node.get("left") or (node.get("children") or [{}])[0]
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
        inner = ctes.get(fold(str(source.get("table_name", ""))))
        return _width(inner, ctes) if isinstance(inner, dict) else None
    return None
