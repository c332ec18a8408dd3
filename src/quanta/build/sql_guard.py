"""Refuse SQL that reads anything but what a product declared, before it runs.

Product SQL is DuckDB's dialect, and the guard reads it with DuckDB's own parser (its parse
tree, as ``json_serialize_sql`` gives it: `sql_parse`), so what is checked is what the
engine will run.
Everything is allowed by name, nothing by omission:

- one statement, and a query;
- relations: the declared names, and CTEs where they are in scope (any other name would be
  read as a file path by DuckDB);
- table functions: the generators of `sql_functions.TABLE_FUNCTIONS`, in any position
  (``FROM``, ``JOIN``, ``LATERAL``);
- every other function call, anywhere in the query: `sql_functions.ALLOWED`, by its name
  alone;
- only the kinds of expression, table reference and query the guard knows;
- only as much structure as the engine plans in bounded time (`Work`): DuckDB cannot
  interrupt binding and optimizing, only running, so a query whose plan alone takes minutes
  would outlast any time limit.

It is the readable first line of defence: it names the offending part and its line. The
engine's sandbox (no file outside the declared inputs) is the second.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from quanta.build.sql_columns import reads_any, selected_width
from quanta.build.sql_functions import ALLOWED, TABLE_FUNCTIONS
from quanta.build.sql_parse import (
    QUERY_NODES,
    TABLE_REFERENCES,
    SqlProblem,
    deep_enough,
    line_of,
    parse,
    too_deep,
)
from quanta.sql_text import fold

# What a query does with columns (`sql_columns`) is asked of the guard too.
__all__ = ["SqlProblem", "check_sql", "reads_any", "selected_width"]


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

VALUE_FUNCTIONS = {
    "current_catalog": "current_catalog",
    "current_date": "current_date",
    "current_role": "current_role",
    "current_schema": "current_schema",
    "current_time": "get_current_time",
    "current_timestamp": "get_current_timestamp",
    "current_user": "current_user",
    "localtime": "current_localtime",
    "localtimestamp": "current_localtimestamp",
    "session_user": "session_user",
    "user": "user",
}
"""SQL's functions written without parentheses, and the functions DuckDB calls for them: it
reads an unqualified column of one of these names that no relation has as that call."""

BY_NAME = frozenset({"aggregate", "array_aggr", "array_aggregate", "list_aggr", "list_aggregate"})
"""Functions that call an aggregate function named by their second argument, a string."""

MAX_EXPRESSION_DEPTH = 400
"""Calls and operators nested in one another (``upper(upper(...))``, ``a + b + ...``):
binding them takes DuckDB time that grows with the cube of their depth (400 levels, a few
seconds; its own limit of 1,000, a minute), and binding is never interrupted."""
MAX_SUBQUERY_WEIGHT = 2**17
"""Subqueries within expressions, each weighing 2 to the power of how many subqueries hold
it (through the CTEs it reads too): DuckDB plans them in time that doubles with each level
(16 levels, a tenth of a second; 26, a minute)."""
MAX_RELATIONS = 48
"""Relations one query reads, each use of a CTE counting what the CTE reads: ordering the
joins of 48 takes DuckDB about a second, of 100 nearly a minute."""
MAX_GROUPING_SETS = 128
"""Grouping sets of one query (``CUBE`` of n columns makes 2^n): planning 128 takes DuckDB
a fraction of a second, 8,192 (a CUBE of 13 columns) two minutes."""


@dataclass
class Work:
    """What planning a query asks of the engine, as far as its parse tree tells."""

    relations: int = 0
    subqueries: int = 0
    grouping_sets: int = 0

    def add(self, other: Work, weight: int = 1) -> None:
        """Add ``other``, the work of a CTE read here, whose subqueries weigh ``weight``
        times more (as many times as subqueries hold this use of the CTE)."""
        self.relations += other.relations
        self.subqueries += other.subqueries * weight
        self.grouping_sets += other.grouping_sets

    def most(self, other: Work) -> Work:
        return Work(
            max(self.relations, other.relations),
            max(self.subqueries, other.subqueries),
            max(self.grouping_sets, other.grouping_sets),
        )


def check_sql(
    sql: str, visible: Collection[tuple[str, ...]], *, purpose: str = "a transformation"
) -> list[SqlProblem]:
    """Problems that keep ``sql`` from running when only ``visible`` relation names exist.

    Names in ``visible`` are tuples of lowercase parts: ``("orders",)`` or
    ``("checkout", "orders")``.
    """
    with deep_enough():
        parsed = parse(sql, purpose)
        if isinstance(parsed, SqlProblem):
            return [parsed]
        guard = _Guard(sql, {tuple(fold(part) for part in name) for name in visible}, purpose)
        try:
            guard.query(parsed, frozenset())
        except RecursionError:
            return [too_deep()]
    return guard.problems + guard.too_much()


@dataclass
class _Guard:
    sql: str
    known: set[tuple[str, ...]]
    purpose: str
    problems: list[SqlProblem] = field(default_factory=list)
    work: Work = field(default_factory=Work)
    cte_work: dict[str, Work] = field(default_factory=dict)
    """The work of each CTE's body, by name (the most of any CTEs of one name)."""
    depth: int = 0  # calls and operators around the expression being walked
    deepest: int = 0
    deepest_node: dict[str, Any] | None = None
    subqueries: int = 0  # subqueries around the expression being walked

    def too_much(self) -> list[SqlProblem]:
        """Why the engine could not plan the query in bounded time, if it could not."""
        problems = []
        if self.deepest > MAX_EXPRESSION_DEPTH:
            location = (self.deepest_node or {}).get("query_location")
            problems.append(
                SqlProblem(
                    f"the SQL nests calls and operators {self.deepest} levels deep, more "
                    f"than the {MAX_EXPRESSION_DEPTH} the engine plans in bounded time",
                    "split long chains: group them in parentheses, or compute parts in CTEs",
                    line_of(self.sql, location) if isinstance(location, int) else None,
                )
            )
        if self.work.subqueries > MAX_SUBQUERY_WEIGHT:
            problems.append(
                SqlProblem(
                    "the SQL nests subqueries within subqueries too deeply (directly or "
                    "through the CTEs they read) for the engine to plan in bounded time",
                    "join the results of the inner subqueries instead of nesting them",
                )
            )
        if self.work.relations > MAX_RELATIONS:
            problems.append(
                SqlProblem(
                    f"the SQL reads {self.work.relations} relations (each use of a CTE "
                    f"counting what it reads), more than the {MAX_RELATIONS} the engine "
                    "plans in bounded time",
                    "join fewer relations in one query: split the work into products",
                )
            )
        if self.work.grouping_sets > MAX_GROUPING_SETS:
            problems.append(
                SqlProblem(
                    f"the SQL groups by {self.work.grouping_sets} grouping sets, more than "
                    f"the {MAX_GROUPING_SETS} the engine plans in bounded time",
                    "group by fewer CUBE, ROLLUP or GROUPING SETS columns",
                )
            )
        return problems

    def refuse(self, node: dict[str, Any], message: str, hint: str) -> None:
        location = node.get("query_location")
        line = line_of(self.sql, int(location)) if isinstance(location, int) else None
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
            name = fold(str(entry.get("key", "")))
            self.cte_work[name] = self.cte_work.get(name, Work()).most(
                self.cte(body.get("node"), scope)
            )
            scope = scope | {name}
        sets = node.get("group_sets")
        if isinstance(sets, list):
            self.work.grouping_sets += len(sets)
        if kind == "RECURSIVE_CTE_NODE":
            # Only the recursive part reads the CTE: DuckDB binds the anchor before the CTE
            # exists, where its name is any relation, or a file path. With USING KEY, the
            # recursive part also reads recurring.<name>, the CTE's rows so far.
            name = fold(str(node.get("cte_name", "")))
            self.walk(node.get("left"), scope)
            self.walk(node.get("right"), scope | {name, f"recurring.{name}"})
            self.children(node, scope, "cte_map", "left", "right")
            return
        self.children(node, scope, "cte_map")

    def cte(self, body: Any, scope: frozenset[str]) -> Work:
        """Walk a CTE's body; its work, which each use of the CTE adds (DuckDB inlines a
        CTE read once; the work of one read many times is counted as often)."""
        outer, subqueries = self.work, self.subqueries
        self.work, self.subqueries = Work(), 0
        try:
            self.walk(body, scope)
            return self.work
        finally:
            self.work, self.subqueries = outer, subqueries

    def table(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        kind = node["type"]
        if kind in ("BASE_TABLE", "TABLE_FUNCTION", "EXPRESSION_LIST"):
            self.work.relations += 1
        if kind in REFUSED_REFERENCES:
            self.refuse(node, f"{REFUSED_REFERENCES[kind]} are not allowed", "write a SELECT query")
            return
        if kind == "BASE_TABLE":
            self.relation(node, ctes)
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = fold(str(function.get("function_name", "")))
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
            fold(str(node[key]))
            for key in ("catalog_name", "schema_name", "table_name")
            if node.get(key)
        )
        self.children(node, ctes)
        # A CTE by its own name, or recurring.<name> inside a USING KEY CTE; compared part
        # by part: a CTE named "recurring.x/y.parquet" must not make a file path one.
        if len(parts) == 1 and "." not in parts[0] and parts[0] in ctes:
            # A recursive CTE reading itself has no work recorded yet: its rows so far.
            self.work.add(self.cte_work.get(parts[0], Work()), 2**self.subqueries)
            return
        if (
            len(parts) == 2
            and parts[0] == "recurring"
            and "." not in parts[1]
            and f"recurring.{parts[1]}" in ctes
        ):
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
        if kind == "COLUMN_REF":
            self.column(node)
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
            if fold(name) not in ALLOWED:
                self.refuse(
                    node,
                    f"the function {name}() is not allowed",
                    "call functions that compute on the values of rows; this one reads "
                    "files, settings or the engine's state, or is unknown to Quanta",
                )
            elif fold(name) in BY_NAME:
                self.by_name(node, name)
        nests = kind not in ("COLUMN_REF", "LAMBDA_REF", "POSITIONAL_REFERENCE", "STAR", "TYPE")
        self.depth += nests
        if self.depth > self.deepest:
            self.deepest, self.deepest_node = self.depth, node
        if kind == "SUBQUERY":
            self.subqueries += 1
            self.work.subqueries += 2**self.subqueries
        try:
            self.children(node, ctes)
        finally:
            self.depth -= nests
            self.subqueries -= kind == "SUBQUERY"

    def by_name(self, node: dict[str, Any], name: str) -> None:
        """``list_aggr(l, 'max')`` calls max: the name must be written out, and allowed."""
        arguments = node.get("children") or []
        called = arguments[1] if len(arguments) > 1 else {}
        value = called.get("value") or {} if called.get("class") == "CONSTANT" else {}
        if isinstance(value.get("value"), str) and fold(value["value"]) in ALLOWED:
            return
        self.refuse(
            node,
            f"{name}() may call only an allowed aggregate function, written as a string",
            f"write its name out: {name}(list, 'max')",
        )

    def column(self, node: dict[str, Any]) -> None:
        """An unqualified column named like a function SQL writes without parentheses is
        that function's call, wherever no relation has such a column."""
        names = node.get("column_names") or []
        if len(names) != 1:
            return
        name = fold(str(names[0]))
        function = VALUE_FUNCTIONS.get(name)
        if function is not None and function not in ALLOWED:
            self.refuse(
                node,
                f"the SQL uses {name}, which reads the engine's state",
                f"if it is a column, name it with its relation: t.{name}",
            )
