"""Joins that compare columns meaning different things: a customer id with a session id, or
the shop's customer number with the website's user id. Both are text, so SQL joins them
without complaint, and the result matches by accident, or never.

`join_warnings` reads a query (or a transformation, with its resolved inputs), and finds
every join condition that compares a column of one concept with a column of another, or
two identifiers of one concept of different types; each warning names both columns and,
where the mesh has one, the chain of mapping ports to join through instead
(``customer.identity_map.accounts``).

What counts as a join condition: each equality (``=``, ``IS NOT DISTINCT FROM``) of a
join's ON (USING and NATURAL compare columns by name, and are read as ON), and of the
WHERE, between columns of two different relations; and ``x IN (SELECT y ...)``. Each side
is a column, or one in parentheses or a CAST; an expression that computes another value
(``concat('u-', right(customer_id, 7))``) is an explicit translation, and is not judged. A
column of a CTE or a subquery means what the published columns it derives from mean, when
they all mean the same.

The SQL is read by the same analysis as column lineage (`quanta.build.lineage`: sqlglot's
reading of names through stars, aliases, USING, CTEs and subqueries, refused where it
differs from DuckDB's parse): no second resolver of names. What it cannot follow gives no
warning, nor does SQL larger than `MAX_NODES`: a warning is advice, never a refusal, and
nothing here raises on any SQL.

This module imports sqlglot (and DuckDB's parser): import it where it is used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

# Lineage's analysis itself, not only its answer: the scopes it qualified, and how it follows
# a column to the published columns it comes from.
from quanta.build.lineage import (
    ColumnSources,
    Source,
    _Analysis,
    _CannotFollow,
    _Inputs,
    _owner,
    _read_by_duckdb,
)
from quanta.build.sql_parse import SqlProblem, all_nodes, parse
from quanta.model.concepts import ConceptMap, JoinedColumn, JoinWarning, Meaning
from quanta.privacy.concepts import concept_map, port_meanings

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.reading import PublishedPort

__all__ = ["Relation", "join_warnings", "relations_of", "routed", "suspicious_joins"]

MAX_NODES = 1_000
"""The largest SQL analysed, in nodes of DuckDB's parse tree (a join of a few tables has some
tens): sqlglot's qualification takes time quadratic in the depth of a condition, about half
a second at this size, and a warning is not worth more."""

_EQUALITIES = (exp.EQ, exp.NullSafeEQ)
_SAME_VALUE = (exp.Paren, exp.Cast, exp.TryCast)
"""Wrappers that keep a column's values what they are."""


@dataclass(frozen=True)
class Relation:
    """A published port as the SQL may name it: every column, with what it means."""

    product: str
    port: str
    columns: Mapping[str, Meaning | None]


def join_warnings(
    context: MeshContext, sql: str, ports: Sequence[PublishedPort] | None = None
) -> list[JoinWarning]:
    """The suspicious joins of ``sql``, each with the mappings to join through: a query's
    over the served ports it names (``ports`` None), or a transformation's over ``ports``,
    its resolved inputs (`quanta.build.inputs.ResolvedInputs.upstream`)."""
    if ports is None:
        from quanta.reading.ports import relations_named, served_ports

        named = relations_named(sql)
        ports = served_ports(context.stores.catalog, named) if named else []
    found = suspicious_joins(sql, relations_of(ports))
    # The whole catalog is read for the mappings only when there is something to tell.
    return routed(found, concept_map(context)) if found else []


def relations_of(ports: Sequence[PublishedPort]) -> dict[str, Relation]:
    """Each name the SQL may address a port by (``web.sessions``, ``web.sessions.sessions``,
    an input port's name), to the port."""
    relations: dict[str, Relation] = {}
    for port in ports:
        relation = Relation(port.product, port.port.port, port_meanings(port.port))
        for name in port.names:
            relations[".".join(name)] = relation
    return relations


def routed(warnings: Sequence[JoinWarning], concepts: ConceptMap) -> list[JoinWarning]:
    """``warnings``, each with the shortest chain of mappings between its two identifiers."""
    return [
        warning.model_copy(
            update={
                "through": tuple(
                    mapping.address
                    for mapping in concepts.route(warning.left.meaning, warning.right.meaning)
                )
            }
        )
        for warning in warnings
    ]


def suspicious_joins(sql: str, relations: Mapping[str, Relation]) -> list[JoinWarning]:
    """Every join condition of ``sql`` that compares columns of different concepts, or of
    one concept in different identifier types, in the order of the SQL. ``relations`` maps
    each name the SQL may read to its port. Never raises: SQL that cannot be followed has
    no warnings."""
    if not any(meaning for relation in relations.values() for meaning in relation.columns.values()):
        return []  # no column of what it reads means anything to compare
    # sqlglot warns on stderr of syntax it does not know; that is not the user's to see.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        tree = parse(sql, "a query")  # DuckDB's parse: what lineage reads too, kept
        if isinstance(tree, SqlProblem) or _larger(tree, MAX_NODES):
            return []
        return _Joins(sql, relations).warnings()
    except Exception:  # _CannotFollow, sqlglot's errors and faults, RecursionError
        return []


class _Scopes(_Analysis):
    """Column lineage's reading of a query, to its qualified scopes, without following the
    query's output columns (which a join warning does not need)."""

    def outputs(self, root: Scope, everything: frozenset[Source]) -> ColumnSources:
        return ColumnSources()


@dataclass(frozen=True)
class _Side:
    relation: tuple[int, str]
    """Which relation of which scope the column is read from."""
    column: JoinedColumn


class _Joins:
    def __init__(self, sql: str, relations: Mapping[str, Relation]) -> None:
        self.relations = relations
        inputs = _Inputs.of({name: list(relation.columns) for name, relation in relations.items()})
        self.analysis = _Scopes(inputs, _read_by_duckdb(sql, inputs))
        self.analysis.run(sql)

    def warnings(self) -> list[JoinWarning]:
        found: dict[tuple[str, str, int | None], JoinWarning] = {}
        for scope in list(self.analysis.scopes.values()):
            for left, right, line in self.comparisons(scope):
                if not _suspicious(left.column.meaning, right.column.meaning):
                    continue
                first, second = sorted((left.column, right.column), key=lambda c: c.name)
                key = (first.name, second.name, line)
                found.setdefault(key, JoinWarning(left=left.column, right=right.column, line=line))
        return sorted(found.values(), key=lambda w: (w.line or 0, w.left.name, w.right.name))

    def comparisons(self, scope: Scope) -> Iterator[tuple[_Side, _Side, int | None]]:
        """The columns of two relations that ``scope``'s joins and WHERE compare."""
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        # USING and NATURAL become conditions the SQL does not spell: their join's line.
        conditions = [
            (join.args.get("on"), _line(join.this)) for join in select.args.get("joins") or []
        ]
        where = select.args.get("where")
        conditions.append((where.this if isinstance(where, exp.Where) else None, None))
        for condition, line in conditions:
            if not isinstance(condition, exp.Expr):
                continue
            for node in _nodes(condition):
                pair = self.compared(node, scope)
                if pair is not None and pair[0].relation != pair[1].relation:
                    yield pair[0], pair[1], _line(node) or line

    def compared(self, node: exp.Expr, scope: Scope) -> tuple[_Side, _Side] | None:
        try:
            if isinstance(node, _EQUALITIES):
                left, right = _column(node.this), _column(node.expression)
                if left is None or right is None:
                    return None
                first, second = self.side(left, scope), self.side(right, scope)
            elif isinstance(node, exp.In) and isinstance(node.args.get("query"), exp.Expr):
                left = _column(node.this)
                if left is None:
                    return None
                first, second = self.side(left, scope), self.selected(node.args["query"])
            else:
                return None
        except _CannotFollow:
            return None
        return None if first is None or second is None else (first, second)

    def side(self, column: exp.Column, scope: Scope) -> _Side | None:
        """The published column a column read in ``scope`` comes from, when it is one."""
        table = column.table or self.analysis.unqualified(scope, column.name)
        owner = _owner(scope, table) if table else None
        if owner is None or not table:
            return None
        sources = self.analysis.source_column(owner.sources[table], column.name, owner)
        found = self.published(sources)
        return None if found is None else _Side((id(owner), table), found)

    def selected(self, query: exp.Expr) -> _Side | None:
        """What the one column a subquery selects comes from (``x IN (SELECT y ...)``)."""
        inner = self.analysis.scopes.get(id(query.unnest()))
        if inner is None or not isinstance(inner.expression, exp.Select):
            return None
        selects = inner.expression.selects
        if len(selects) != 1:
            return None
        found = self.published(self.analysis.scope_column(inner, selects[0].alias_or_name))
        return None if found is None else _Side((id(inner), ""), found)

    def published(self, sources: frozenset[Source]) -> JoinedColumn | None:
        """The column ``sources`` stand for, when they all mean the same thing."""
        columns = []
        for name, column in sorted(sources):
            relation = self.relations.get(name)
            meaning = relation.columns.get(column) if relation is not None else None
            if relation is None or meaning is None:
                return None
            columns.append(
                JoinedColumn(
                    product=relation.product, port=relation.port, column=column, meaning=meaning
                )
            )
        if not columns or len({column.meaning for column in columns}) != 1:
            return None
        return columns[0]


def _larger(tree: object, most: int) -> bool:
    return sum(1 for _ in islice(all_nodes(tree), most + 1)) > most


def _suspicious(left: Meaning, right: Meaning) -> bool:
    if left.concept != right.concept:
        return True
    # A column naming the concept without an identifier is not judged: it may be one that
    # was published before identifiers were declared.
    return None not in (left.identifier, right.identifier) and left.identifier != right.identifier


def _nodes(condition: exp.Expr) -> Iterator[exp.Expr]:
    """Every part of a condition but the insides of its subqueries (scopes of their own)."""
    pending = [condition]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(
            child for child in node.iter_expressions() if not isinstance(child, exp.Query)
        )


def _column(side: exp.Expr) -> exp.Column | None:
    while isinstance(side, _SAME_VALUE):
        side = side.this
    return side if isinstance(side, exp.Column) and isinstance(side.this, exp.Identifier) else None


def _line(node: exp.Expr) -> int | None:
    for identifier in node.find_all(exp.Identifier):
        line = identifier.meta.get("line")
        if isinstance(line, int):
            return line
    return None
