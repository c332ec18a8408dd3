"""Which input columns each output column of a SQL transformation derives from.

A product inherits the classification of what it computes its columns from: an output column
computed from a ``pii`` column of an input is at least ``pii``, whatever its contract declares.
`column_sources` tells, per output column of the final SELECT, the (input, column) pairs its
values derive from; `inherited_levels` turns that into the strictest level each one inherits.

sqlglot follows the names (``qualify``: stars, aliases, USING, CTEs, subqueries, correlation),
parsed once for all the columns. DuckDB's own parse tree (`sql_parse`: the one the SQL guard
reads, kept from its parse) checks that sqlglot read the query as DuckDB will run it: when they
differ on the inputs read, the width of the select list or the names used as columns, nothing
of sqlglot's reading is trusted.

What passes a value on (the output derives from it):

- every column named in the output's expression: through operators, functions, CAST, CASE (its
  conditions too: ``CASE WHEN email LIKE ...`` tells about the email), subqueries in FROM, CTEs,
  every branch of a UNION, what a scalar subquery selects, both sides of ``IN``;
- a column equal to one of those by a column equality in a join's ON (USING and NATURAL are
  equalities too) or in the WHERE: the values are the same, so one reveals the other;
- aggregates, by family:
  - counting (``count(*)``, ``count(x)``, ``count(DISTINCT x)``, ``count_if``,
    ``approx_count_distinct``, ``grouping``): no, a count returns no value of the column;
  - picking values (``min``, ``max``, ``any_value``, ``first``, ``last``, ``mode``,
    ``median``, ``quantile_disc``, ``list``, ``array_agg``, ``string_agg``, ``histogram``;
    the windows' ``lag``, ``lead``, ``first_value``, ``nth_value``): yes, they return values
    of it; ``arg_max(x, y)`` (``max_by``, ``arg_min``, ``min_by``) returns values of ``x``
    only: ``y`` orders, as in ``first(x ORDER BY y)``;
  - summarizing numbers (``sum``, ``avg``, ``stddev``, ``variance``, ``quantile_cont``,
    ``corr``, ``product``, ``bool_and``, ...): yes, conservatively: over a group of one row
    they return its value;
  - ranking windows (``row_number``, ``rank``, ``ntile``, ...) take no column: nothing.

What does not (a filter or an order returns no value): WHERE, HAVING, QUALIFY, GROUP BY, ORDER
BY, join conditions other than equalities, a window's PARTITION BY and ORDER BY, an aggregate's
FILTER and ORDER BY, EXISTS, the condition of a list comprehension.

A recursive CTE is widened: each of its columns derives from all that any of its columns does.
What cannot be followed gets the conservative answer, every column of every input the query
reads, and says so (`ColumnSources.unresolved`, `ColumnSources.reasons`): PIVOT and UNPIVOT,
positional references (``#1``), a star or ``COLUMNS(...)`` over what has no known columns (a
table function), SQL that sqlglot does not parse or reads unlike DuckDB.

Like `sql_parse`, this module imports its parsers (sqlglot, DuckDB): import it where it is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from quanta.build.sql_parse import SqlProblem, all_nodes, deep_enough, parse
from quanta.model.contract import CLASSIFICATIONS
from quanta.sql_text import fold

__all__ = [
    "COUNTING",
    "ColumnSources",
    "ColumnsRead",
    "Source",
    "column_sources",
    "columns_read",
    "inherited_levels",
]

_T = TypeVar("_T")

Source = tuple[str, str]
"""(input name, input column), spelled as the caller gave them."""

COUNTING = frozenset(
    {
        "approx_count_distinct",
        "approx_distinct",
        "count",
        "count_if",
        "count_star",
        "countif",
        "grouping",
        "grouping_id",
    }
)
"""Aggregates that return how many, never a value: their arguments pass nothing on."""

DUCKDB_SCHEMAS = frozenset({"main", "pg_catalog", "system"})
"""Where DuckDB's own functions are, which its parse tree names for some it writes itself."""

_COUNTING_NODES = (exp.Count, exp.CountIf, exp.ApproxDistinct, exp.Grouping, exp.GroupingId)

# Where sqlglot places a relation written with fewer than three parts. No name of the mesh
# starts with an underscore, so no input of three parts is mistaken for one of fewer.
_CATALOG, _SCHEMA = "_quanta_catalog", "_quanta_schema"
_SPELLED = "quanta_spelled"  # an identifier as written: sqlglot lowercases every name
_TEXT = "quanta_text"  # an unnamed output expression as written


class ColumnSources(dict[str, frozenset[Source]]):
    """Per output column of a transformation, in output order, the input columns it derives
    from (none for a constant or a count)."""

    unresolved: frozenset[str]
    """Output columns whose sources could not be followed: each holds the conservative answer,
    every column of every input the query reads."""
    unnamed: frozenset[Source] | None
    """When the output's columns could not all be named, what a column not listed may derive
    from: every column the query reads, for a star sqlglot cannot list or SQL it cannot read;
    what it derives from, for an expression without a name (DuckDB names it by its own text of
    it, which may not read as sqlglot's)."""
    reasons: tuple[str, ...]
    """What could not be followed, and why: one line each."""
    copies: dict[str, frozenset[Source]]
    """Output columns whose every value is an input column's value as it is (through
    aliases, casts, and relations in FROM or WITH), with the input columns it is: a copy
    of an identifier identifies as it does. Empty when the answer is conservative."""

    def __init__(
        self,
        sources: Iterable[tuple[str, frozenset[Source]]] = (),
        *,
        unresolved: Iterable[str] = (),
        unnamed: frozenset[Source] | None = None,
        reasons: Iterable[str] = (),
        copies: dict[str, frozenset[Source]] | None = None,
    ) -> None:
        super().__init__(sources)
        self.unresolved = frozenset(unresolved)
        self.unnamed = unnamed
        self.reasons = tuple(reasons)
        self.copies = copies or {}

    @property
    def complete(self) -> bool:
        """Whether every output column was named and followed."""
        return not self.unresolved and self.unnamed is None

    def copy_of(self, column: str) -> frozenset[Source]:
        """The input columns the output column ``column`` is a copy of (none: it is not
        one, or it could not be followed), its name compared as DuckDB does."""
        for name, sources in self.copies.items():
            if name == column or fold(name) == fold(column):
                return sources
        return frozenset()

    def of(self, column: str) -> frozenset[Source]:
        """What the output column ``column`` derives from, its name compared as DuckDB does;
        for a column the answer could not name, the conservative answer."""
        if column in self:
            return self[column]
        for name, sources in self.items():
            if fold(name) == fold(column):
                return sources
        return self.unnamed if self.unnamed is not None else frozenset()


def column_sources(sql: str, inputs: Mapping[str, Iterable[str]]) -> ColumnSources:
    """Per output column of ``sql``'s final SELECT, the (input, column) pairs it derives from.

    ``inputs`` maps each name the SQL may read (``raw_orders``, ``web.sessions``,
    ``customer.identity_map.sessions``: one entry per name the build exposes an input port
    under) to its columns, or to none where they are unknown. Names are compared as DuckDB
    compares them, in any case; the answer spells inputs and their columns as ``inputs`` does.
    It never raises: what cannot be followed gets the conservative answer (see the module's
    docstring).
    """
    known = _Inputs.of(inputs)
    duckdb = _read_by_duckdb(sql, known)
    analysis = _Analysis(known, duckdb)
    found, reason = _followed(lambda: analysis.run(sql))
    return found if found is not None else _conservative(known, duckdb, reason)


def _followed(follow: Callable[[], _T]) -> tuple[_T | None, str]:
    """What ``follow`` finds, or None and why sqlglot could not follow the SQL."""
    # sqlglot warns about syntax it does not know on stderr, which is the user's terminal; what
    # it cannot follow is told in the answer's reasons instead.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        return follow(), ""
    except _CannotFollow as error:
        return None, error.reason
    except SqlglotError as error:
        first = next(iter(str(error).splitlines()), type(error).__name__)
        return None, f"sqlglot cannot read the SQL: {first}"
    except RecursionError:
        return None, "the SQL nests too deeply for sqlglot to follow"
    except Exception as error:  # sqlglot's own faults, on SQL that DuckDB runs
        return None, f"sqlglot failed on the SQL ({type(error).__name__}: {error})"


@dataclass(frozen=True)
class ColumnsRead:
    """The input columns a transformation reads anywhere, per input name."""

    columns: dict[str, frozenset[str]]
    """Per input name the SQL reads (spelled as given), the columns it reads of it."""
    reasons: tuple[str, ...] = ()
    """Why the answer is the conservative one (every column of every input read), if it is."""


def columns_read(sql: str, inputs: Mapping[str, Iterable[str]]) -> ColumnsRead:
    """Per input ``sql`` reads, every column of it the query reads, wherever: a consumer
    relies on what it filters, joins and groups on as much as on what it selects.

    ``inputs`` is as for `column_sources`. Never raises: what cannot be followed gets every
    column of every input the query reads, with the reason.
    """
    known = _Inputs.of(inputs)
    duckdb = _read_by_duckdb(sql, known)
    analysis = _Analysis(known, duckdb)
    found, reason = _followed(lambda: analysis.read(sql))
    if found is not None:
        columns: dict[str, set[str]] = {}
        for name, column in found:
            columns.setdefault(name, set()).add(column)
        return ColumnsRead({name: frozenset(cols) for name, cols in columns.items()})
    read = duckdb.reads if duckdb is not None else frozenset(known.columns)
    every: dict[str, set[str]] = {}
    for name, column in known.every(sorted(read)):
        every.setdefault(name, set()).add(column)
    return ColumnsRead({name: frozenset(cols) for name, cols in every.items()}, (reason,))


def inherited_levels(
    sources: Mapping[str, Iterable[Source]],
    levels_of_inputs: Mapping[str, Mapping[str, str | None]],
) -> dict[str, str]:
    """Per output column, the strictest classification among the input columns it derives
    from (`CLASSIFICATIONS`, least strict first); a column with no classified source is left
    out. Names are compared as DuckDB compares them.

    Raises `ValueError` for a level that is not one of `CLASSIFICATIONS`.
    """
    levels = {
        fold(name): {fold(column): level for column, level in columns.items()}
        for name, columns in levels_of_inputs.items()
    }
    inherited: dict[str, str] = {}
    for output, derived in sources.items():
        strictest = -1
        for name, column in derived:
            level = levels.get(fold(name), {}).get(fold(column))
            if level is None:
                continue
            if level.lower() not in CLASSIFICATIONS:
                raise ValueError(
                    f"{name}.{column} is classified {level!r}: use one of "
                    f"{', '.join(CLASSIFICATIONS)}"
                )
            strictest = max(strictest, CLASSIFICATIONS.index(level.lower()))
        if strictest >= 0:
            inherited[output] = CLASSIFICATIONS[strictest]
    return inherited


# ---------------------------------------------------------------------------------------------
# The inputs, and what DuckDB's parse tree tells


@dataclass(frozen=True)
class _Inputs:
    names: dict[tuple[str, str, str], str]
    """A relation's three parts, as sqlglot qualifies and lowercases them, to its input name."""
    parts: dict[tuple[str, ...], str]
    """A relation's parts, as DuckDB's parse tree has them, folded, to its input name."""
    columns: dict[str, dict[str, str]]
    """Per input name, its columns in order: each lowercased, to its spelling."""

    @classmethod
    def of(cls, inputs: Mapping[str, Iterable[str]]) -> _Inputs:
        names: dict[tuple[str, str, str], str] = {}
        parts: dict[tuple[str, ...], str] = {}
        columns: dict[str, dict[str, str]] = {}
        for name, given in inputs.items():
            split = name.split(".")
            if len(split) > 3 or not all(split):
                continue  # no relation of the SQL can have this name
            full = [_CATALOG, _SCHEMA][: 3 - len(split)] + split
            names[(full[0].lower(), full[1].lower(), full[2].lower())] = name
            parts[tuple(fold(part) for part in split)] = name
            columns[name] = {column.lower(): column for column in given}
        return cls(names, parts, columns)

    def every(self, names: Iterable[str]) -> frozenset[Source]:
        """Every column of the inputs ``names``."""
        return frozenset((name, column) for name in names for column in self.columns[name].values())

    def schema(self) -> dict[str, Any]:
        """The inputs as sqlglot's schema: catalog, schema, table, columns of unknown type."""
        nested: dict[str, Any] = {}
        for (catalog, schema, table), name in self.names.items():
            if not self.columns[name]:
                continue  # columns unknown: sqlglot lists none for a star over it
            tables = nested.setdefault(catalog, {}).setdefault(schema, {})
            tables[table] = dict.fromkeys(self.columns[name], "unknown")
        return nested


@dataclass(frozen=True)
class _DuckdbReading:
    reads: frozenset[str]
    """The inputs the query names (a CTE named like an input counts too: more is safe)."""
    ctes: frozenset[str]
    names: list[str] | None
    """The final SELECT's output names, where each item has one (no star, no bare expression)."""
    width: int | None
    """How many items the final SELECT lists, where none is a star."""
    columns: frozenset[str]
    """Every part of every column reference, folded."""


def _read_by_duckdb(sql: str, inputs: _Inputs) -> _DuckdbReading | None:
    """What DuckDB's parse tree tells of the query, or None when it does not parse."""
    with deep_enough():
        parsed = parse(sql, "a transformation")
    if isinstance(parsed, SqlProblem):
        return None
    reads: set[str] = set()
    ctes: set[str] = set()
    columns: set[str] = set()
    parameters: set[str] = set()
    for node in all_nodes(parsed):
        kind = node.get("class") or node.get("type")
        if kind == "BASE_TABLE":
            parts = tuple(
                fold(str(node[key]))
                for key in ("catalog_name", "schema_name", "table_name")
                if node.get(key)
            )
            if parts in inputs.parts:
                reads.add(inputs.parts[parts])
        elif kind == "COLUMN_REF":
            columns.update(fold(str(part)) for part in node.get("column_names") or [])
        elif kind in ("FUNCTION", "WINDOW"):
            # DuckDB parses email.lower() as lower() in the "schema" email: a column. Its
            # own functions it writes in its own schema: [1, 2] is main.list_value(1, 2).
            qualifiers = {fold(str(node[key])) for key in ("catalog", "schema") if node.get(key)}
            columns.update(qualifiers - DUCKDB_SCHEMAS)
        elif kind == "LAMBDA":
            # Its parameters, and those DuckDB makes up ([x FOR x IN l] has one called elem).
            parameters.update(
                fold(str(part))
                for inner in all_nodes(node.get("lhs"))
                if inner.get("class") == "COLUMN_REF"
                for part in inner.get("column_names") or []
            )
        for entry in (node.get("cte_map") or {}).get("map", []):
            ctes.add(fold(str(entry.get("key", ""))))
    final = _first_select(parsed)
    listed: list[dict[str, Any]] = (final or {}).get("select_list") or []
    if final is None or any(item.get("class") == "STAR" for item in listed):
        return _DuckdbReading(
            frozenset(reads), frozenset(ctes), None, None, frozenset(columns - parameters)
        )
    names = [
        str(item.get("alias") or item["column_names"][-1])
        if item.get("alias") or (item.get("class") == "COLUMN_REF" and item.get("column_names"))
        else None  # DuckDB names an expression by its text only when binding it
        for item in listed
    ]
    named = [name for name in names if name is not None]
    return _DuckdbReading(
        frozenset(reads),
        frozenset(ctes),
        named if len(named) == len(names) else None,
        len(listed),
        frozenset(columns - parameters),
    )


def _first_select(node: dict[str, Any]) -> dict[str, Any] | None:
    """The SELECT that names a query's columns: a set operation's first."""
    while node.get("type") in ("SET_OPERATION_NODE", "RECURSIVE_CTE_NODE"):
        children = node.get("children") or [node.get("left")]
        node = children[0] if isinstance(children[0], dict) else {}
    return node if node.get("type") == "SELECT_NODE" else None


def _conservative(inputs: _Inputs, duckdb: _DuckdbReading | None, reason: str) -> ColumnSources:
    """Every output column derives from every column of every input the query reads."""
    read = duckdb.reads if duckdb is not None else frozenset(inputs.columns)
    everything = inputs.every(sorted(read))
    names = duckdb.names if duckdb is not None else None
    if names is None:
        return ColumnSources(unnamed=everything, reasons=[reason])
    return ColumnSources(((name, everything) for name in names), unresolved=names, reasons=[reason])


class _CannotFollow(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# sqlglot's reading


class _Analysis:
    def __init__(self, inputs: _Inputs, duckdb: _DuckdbReading | None) -> None:
        self.inputs = inputs
        self.duckdb = duckdb
        self.memo: dict[tuple[int, str], frozenset[Source]] = {}
        self.equalities: dict[int, dict[tuple[str, str], frozenset[tuple[str, str]]]] = {}
        self.scopes: dict[int, Scope] = {}
        self.traversed: set[int] = set()

    def run(self, sql: str) -> ColumnSources:
        scopes, read = self.prepare(sql)
        assert self.duckdb is not None
        return self.outputs(scopes[-1], self.inputs.every(sorted(read | self.duckdb.reads)))

    def read(self, sql: str) -> frozenset[Source]:
        """Every input column the query reads anywhere: what it selects, filters, joins,
        groups and orders on, and the columns equal to those (as `column` follows them).

        What names columns by something other than their names (``#1``, ``COLUMNS(...)``,
        a star's ``EXCLUDE`` or ``REPLACE``, a relation's columns renamed by position, a
        whole row as a value) is not followed: `_CannotFollow`, so every column relies."""
        written = sqlglot.parse_one(sql, dialect="duckdb")
        if written.find(exp.PositionalColumn, exp.Columns) is not None:
            raise _CannotFollow("a positional reference (#n) or COLUMNS(...)")
        for star in written.find_all(exp.Star):
            if any(star.args.get(key) for key in ("except", "except_", "replace", "rename")):
                raise _CannotFollow("a star with EXCLUDE, REPLACE or RENAME")
        for alias in written.find_all(exp.TableAlias):
            if alias.columns:
                raise _CannotFollow("a relation's columns renamed by position")
        scopes, _read = self.prepare(sql)
        if scopes[-1].expression.find(exp.TableColumn) is not None:
            raise _CannotFollow("a whole row read as a value")
        found: set[Source] = set()
        for scope in scopes:
            if any(_unexpanded(select) for select in _selects(scope.expression)):
                raise _CannotFollow("a star or COLUMNS(...) sqlglot cannot list")
            for column in scope.columns:
                if isinstance(column.this, exp.Star):
                    raise _CannotFollow("a star inside an expression")
                if not column.table and column.name in _lambda_parameters(column):
                    continue
                found |= self.column(column.table, column.name, scope, frozenset())
            for source in scope.sources.values():
                if isinstance(source, exp.Table) and not isinstance(source.this, exp.Identifier):
                    found |= self.expression(source.this, scope)  # a table function's arguments
        return frozenset(found)

    def prepare(self, sql: str) -> tuple[list[Scope], set[str]]:
        """The query's scopes as sqlglot qualifies them, and the inputs they read; raises
        `_CannotFollow` where sqlglot's reading is not DuckDB's."""
        if self.duckdb is None:
            raise _CannotFollow("DuckDB does not parse the SQL")
        tree = sqlglot.parse_one(sql, dialect="duckdb")
        if not isinstance(tree, exp.Select | exp.SetOperation):
            raise _CannotFollow(f"sqlglot reads the SQL as a {type(tree).__name__}, not a query")
        self.agree_with_duckdb(tree, self.duckdb)
        if tree.find(exp.Pivot) is not None:
            raise _CannotFollow("sqlglot does not follow the columns of PIVOT and UNPIVOT")
        for identifier in tree.find_all(exp.Identifier):
            identifier.meta[_SPELLED] = identifier.this
        for projection in _selects(_first(tree)):
            if not isinstance(projection, exp.Alias | exp.Column | exp.Star):
                projection.meta[_TEXT] = projection.sql(dialect="duckdb")
        qualified = qualify(
            tree,
            dialect="duckdb",
            catalog=_CATALOG,
            db=_SCHEMA,
            schema=self.inputs.schema(),
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
        scopes = traverse_scope(qualified)
        if not scopes:
            raise _CannotFollow("sqlglot finds no query to follow")
        self.scopes = {id(scope.expression): scope for scope in scopes}
        self.traversed = {id(scope) for scope in scopes}
        read = {
            name
            for scope in scopes
            for source in scope.sources.values()
            if isinstance(source, exp.Table) and (name := self.input_of(source)) is not None
        }
        shadowed = {name for name in self.duckdb.reads if fold(name) in self.duckdb.ctes}
        if self.duckdb.reads - shadowed - read:
            raise _CannotFollow("sqlglot reads other inputs than DuckDB does")
        return scopes, read

    def agree_with_duckdb(self, tree: exp.Expr, duckdb: _DuckdbReading) -> None:
        """Refuse sqlglot's reading where it differs from DuckDB's on what shapes the output:
        sqlglot reads other dialects too, and may read some of DuckDB's otherwise."""
        selects = _selects(_first(tree))
        if duckdb.width is not None and len(selects) != duckdb.width:
            raise _CannotFollow(
                f"sqlglot reads {len(selects)} output columns where DuckDB reads {duckdb.width}"
            )
        named = {fold(identifier.this) for identifier in tree.find_all(exp.Identifier)}
        missed = duckdb.columns - named
        if missed:
            raise _CannotFollow(
                f"sqlglot does not read {', '.join(sorted(missed))} as a name, as DuckDB does"
            )

    def outputs(self, root: Scope, everything: frozenset[Source]) -> ColumnSources:
        branches = list(_branches(root))
        selects = _selects(branches[0].expression)
        by_name = isinstance(root.expression, exp.SetOperation) and bool(
            root.expression.args.get("by_name")
        )
        duckdb_names = self.duckdb.names if self.duckdb is not None else None
        if duckdb_names is not None and len(duckdb_names) != len(selects):
            duckdb_names = None
        found: dict[str, frozenset[Source]] = {}
        copies: dict[str, frozenset[Source]] = {}
        unresolved: dict[str, str] = {}
        reasons: list[str] = []
        unnamed: frozenset[Source] | None = None
        for index, projection in enumerate(selects):
            if _unexpanded(projection):
                unnamed = everything
                reasons.append("the output has a star or COLUMNS(...) sqlglot cannot list")
                continue
            # DuckDB's own spelling of its output's names, where its tree has them.
            name = duckdb_names[index] if duckdb_names else self.spelled(projection, branches[0])
            try:
                if by_name:
                    derived = self.by_name(branches, projection.alias_or_name)
                else:
                    derived = self.by_position(branches, index)
            except _CannotFollow as error:
                unresolved.setdefault(name, error.reason)
                derived = everything
            found[name] = found.get(name, frozenset()) | derived  # two columns of one name
            copied = None if by_name else self.copied(branches, index)
            if copied and name not in copies:
                copies[name] = copied
            else:
                copies.pop(name, None)  # two columns of one name: not one copy
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if _TEXT in inner.meta and not duckdb_names:
                # DuckDB names it by its own text of the expression, which may read otherwise.
                unnamed = (unnamed or frozenset()) | derived
                reasons.append(f"{name}: an expression without a name; name it with AS")
        reasons[:0] = [f"{name}: {reason}" for name, reason in unresolved.items()]
        copies = {name: copied for name, copied in copies.items() if name not in unresolved}
        return ColumnSources(
            found.items(), unresolved=unresolved, unnamed=unnamed, reasons=reasons, copies=copies
        )

    def copied(self, branches: list[Scope], index: int) -> frozenset[Source] | None:
        """The input columns the ``index``-th output column is a copy of, in every branch
        of a set operation; None when any branch computes it."""
        found: set[Source] = set()
        for branch in branches:
            selects = _selects(branch.expression)
            if index >= len(selects):
                return None
            copied = self.copy(selects[index], branch, 0)
            if copied is None:
                return None
            found |= copied
        return frozenset(found)

    def copy(self, node: exp.Expr, scope: Scope, depth: int) -> frozenset[Source] | None:
        """The input columns whose value ``node``, read in ``scope``, is as it is (through
        aliases, casts, and the relations in FROM or WITH it reads); None when it computes
        anything, or cannot be followed."""
        while isinstance(node, exp.Alias | exp.Cast | exp.Paren):
            node = node.this
        if (
            depth > 64
            or not isinstance(node, exp.Column)
            or not isinstance(node.this, exp.Identifier)
        ):
            return None
        owner = _owner(scope, node.table) if node.table else None
        source = owner.sources.get(node.table) if owner is not None else None
        if isinstance(source, exp.Table):
            if not isinstance(source.this, exp.Identifier) or owner is None:
                return None  # a table function's output
            try:
                return self.source_column(source, node.name, owner)
            except _CannotFollow:
                return None
        if not isinstance(source, Scope) or id(source) not in self.traversed:
            return None
        found: set[Source] = set()
        for branch in _branches(source):
            selects = [s for s in _selects(branch.expression) if s.alias_or_name == node.name]
            if len(selects) != 1 or _unexpanded(selects[0]):
                return None
            copied = self.copy(selects[0], branch, depth + 1)
            if copied is None:
                return None
            found |= copied
        return frozenset(found)

    def by_position(self, branches: list[Scope], index: int) -> frozenset[Source]:
        derived: frozenset[Source] = frozenset()
        for branch in branches:
            selects = _selects(branch.expression)
            if index >= len(selects) or any(_unexpanded(s) for s in selects[: index + 1]):
                raise _CannotFollow("a branch of the set operation has columns sqlglot cannot list")
            derived |= self.expression(selects[index], branch)
        return derived

    def by_name(self, branches: list[Scope], name: str) -> frozenset[Source]:
        derived: frozenset[Source] = frozenset()
        for branch in branches:
            selects = _selects(branch.expression)
            if any(_unexpanded(select) for select in selects):
                raise _CannotFollow("a branch of the set operation has columns sqlglot cannot list")
            for select in selects:
                if select.alias_or_name == name:
                    derived |= self.expression(select, branch)
        return derived

    def spelled(self, projection: exp.Expr, scope: Scope) -> str:
        """An output's name as the SQL spells it."""
        alias = projection.args.get("alias") if isinstance(projection, exp.Alias) else None
        if alias is not None and _SPELLED in alias.meta:
            return str(alias.meta[_SPELLED])
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if _TEXT in inner.meta:
            return str(inner.meta[_TEXT])
        if isinstance(inner, exp.Column) and inner.name == projection.alias_or_name:
            if _SPELLED in inner.this.meta:
                return str(inner.this.meta[_SPELLED])
            # A column a star expanded to: spelled as its relation spells it.
            owner = _owner(scope, inner.table)
            source = owner.sources[inner.table] if owner is not None else None
            if isinstance(source, exp.Table) and (name := self.input_of(source)) is not None:
                return self.inputs.columns[name].get(inner.name, inner.name)
            if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
                for select in _selects(source.expression):
                    if select.alias_or_name == inner.name:
                        return self.spelled(select, source)
        return str(projection.alias_or_name)

    def input_of(self, table: exp.Table) -> str | None:
        """The input a relation is, if it is one."""
        if not (table.catalog and table.db):
            return None  # a CTE: qualification gives every other relation three parts
        return self.inputs.names.get((table.catalog.lower(), table.db.lower(), table.name.lower()))

    def expression(self, node: exp.Expr, scope: Scope) -> frozenset[Source]:
        """The input columns whose values ``node``, read in ``scope``, is computed from."""
        found: set[Source] = set()
        pending: list[tuple[exp.Expr, frozenset[str]]] = [(node, frozenset())]
        while pending:
            current, bound = pending.pop()
            if isinstance(current, exp.Column):
                if isinstance(current.this, exp.Star):
                    raise _CannotFollow("a star inside an expression")
                found |= self.column(current.table, current.name, scope, bound)
            elif isinstance(current, exp.Dot):
                # email.lower(), t.email.lower(): the method's receiver, a column, is read as
                # a path of bare names.
                receiver, member = current.this, current.expression
                path = _path(receiver)
                if path:
                    found |= self.path(path, scope, bound)
                else:
                    pending.append((receiver, bound))
                if not isinstance(member, exp.Identifier):
                    pending.append((member, bound))  # a struct's field: no column
            elif isinstance(current, exp.Query):
                found |= self.query_values(current.unnest())
            elif isinstance(current, exp.TableColumn):  # a relation as a value: SELECT t FROM t
                owner = _owner(scope, current.name)
                if owner is None:
                    raise _CannotFollow(f"no relation {current.name!r} is in scope")
                found |= self.every_column(owner.sources[current.name], owner)
            elif isinstance(current, exp.Exists) or _counts(current):
                continue
            elif isinstance(current, exp.Window | exp.Filter | exp.ArgMax | exp.ArgMin):
                # Not a window's partition or order, an aggregate's filter, or what arg_max
                # orders by (it returns the value of its first argument).
                pending.append((current.this, bound))
            elif isinstance(current, exp.Order):
                # list(x ORDER BY y) returns x; mode() WITHIN GROUP (ORDER BY y) returns y.
                ordered = [current.this] if current.this is not None else current.expressions
                pending.extend((part, bound) for part in ordered)
            elif isinstance(current, exp.Lambda):
                names = frozenset(parameter.name for parameter in current.expressions)
                pending.append((current.this, bound | names))
            elif isinstance(current, exp.Comprehension):
                pending.append((current.this, bound | {current.expression.name}))
                iterator = current.args.get("iterator")
                if isinstance(iterator, exp.Expr):
                    pending.append((iterator, bound))
            elif isinstance(current, exp.Star | exp.Columns):
                raise _CannotFollow("a star or COLUMNS(...) inside an expression")
            elif isinstance(current, exp.PositionalColumn):
                raise _CannotFollow("a positional reference (#n)")
            else:
                pending.extend((child, bound) for child in current.iter_expressions())
        return frozenset(found)

    def query_values(self, query: exp.Expr) -> frozenset[Source]:
        """What a subquery within an expression returns: all it selects."""
        scope = self.scopes.get(id(query))
        if scope is None:
            raise _CannotFollow("a subquery sqlglot does not scope")
        return self.every_column(scope, None)

    def column(
        self, table: str, name: str, scope: Scope, bound: frozenset[str]
    ) -> frozenset[Source]:
        """A column read in ``scope``, with the columns equal to it."""
        if not table:
            if name in bound:
                return frozenset()  # a lambda's parameter
            having = self.unqualified(scope, name)
            if having is None:
                owner = _owner(scope, name)
                if owner is None:
                    raise _CannotFollow(f"the column {name!r} is in no relation sqlglot knows")
                return self.every_column(owner.sources[name], owner)  # SELECT t FROM t
            table = having
        derived: frozenset[Source] = frozenset()
        for alias, column in self.equal(scope, table, name):
            owner = _owner(scope, alias)
            if owner is None:
                raise _CannotFollow(f"no relation {alias!r} is in scope for {alias}.{column}")
            derived |= self.source_column(owner.sources[alias], column, owner)
        return derived

    def path(self, path: list[str], scope: Scope, bound: frozenset[str]) -> frozenset[Source]:
        """A column written as a path of names: relation.column.field... or column.field..."""
        if len(path) > 1 and path[0] not in bound and _owner(scope, path[0]) is not None:
            return self.column(path[0], path[1], scope, bound)
        return self.column("", path[0], scope, bound)

    def unqualified(self, scope: Scope | None, name: str) -> str | None:
        """The relation a column sqlglot left unqualified belongs to, if any has it."""
        while scope is not None:
            having = []
            for alias, source in scope.sources.items():
                if isinstance(source, exp.Table):
                    listed = self.input_of(source)
                    columns = set(self.inputs.columns.get(listed, {})) if listed else set()
                    renamed = source.args.get("alias")
                    if isinstance(renamed, exp.TableAlias):
                        columns |= {column.name for column in renamed.columns}
                else:
                    columns = {s.alias_or_name for s in _selects(_first(source.expression))}
                if name in columns:
                    having.append(alias)
            if len(having) > 1:
                raise _CannotFollow(f"the column {name!r} is in several relations")
            if having:
                return str(having[0])
            scope = scope.parent
        return None

    def equal(self, scope: Scope, table: str, name: str) -> frozenset[tuple[str, str]]:
        """``table.name`` and the columns equal to it, in ``scope`` and those around it up to
        the one that reads ``table``."""
        owner = _owner(scope, table)
        chain = []
        current: Scope | None = scope
        while current is not None:
            chain.append(current)
            if current is owner:
                break
            current = current.parent
        members = {(table, name)}
        grown = True
        while grown:
            grown = False
            for current in chain:
                classes = self.equalities_in(current)
                for member in list(members):
                    more = classes.get(member, frozenset()) - members
                    if more:
                        members |= more
                        grown = True
        return frozenset(members)

    def equalities_in(self, scope: Scope) -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
        """Columns equal by an equality of a join's ON or of the WHERE (at their top-level
        AND), each to its class."""
        known = self.equalities.get(id(scope))
        if known is not None:
            return known
        conditions: list[exp.Expr] = []
        select = scope.expression
        if isinstance(select, exp.Select):
            for join in select.args.get("joins") or []:
                if isinstance(join.args.get("on"), exp.Expr):
                    conditions.append(join.args["on"])
            where = select.args.get("where")
            if isinstance(where, exp.Where):
                conditions.append(where.this)
        parent: dict[tuple[str, str], tuple[str, str]] = {}

        def root(key: tuple[str, str]) -> tuple[str, str]:
            while parent.setdefault(key, key) != key:
                key = parent[key]
            return key

        for condition in conditions:
            parts = condition.flatten() if isinstance(condition, exp.And) else [condition]
            for part in parts:
                if not isinstance(part, exp.EQ | exp.NullSafeEQ) or part.find(exp.Query):
                    continue
                left, right = (
                    [(c.table, c.name) for c in side.find_all(exp.Column) if c.table]
                    for side in (part.this, part.expression)
                )
                if left and right:
                    first = root(left[0])
                    for key in left + right:
                        parent[root(key)] = first
        classes: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for key in list(parent):
            classes.setdefault(root(key), set()).add(key)
        result = {key: frozenset(classes[root(key)]) for key in parent}
        self.equalities[id(scope)] = result
        return result

    def source_column(
        self, source: exp.Table | Scope, name: str, owner: Scope
    ) -> frozenset[Source]:
        """The input columns a relation's column ``name`` derives from; ``owner`` reads it."""
        if isinstance(source, Scope):
            return self.scope_column(source, name)
        if not isinstance(source.this, exp.Identifier):
            return self.expression(source.this, owner)  # a table function: its arguments
        listed = self.input_of(source)
        if listed is None:
            raise _CannotFollow(f"the relation {source.name!r} is not an input")
        columns = self.inputs.columns[listed]
        alias = source.args.get("alias")
        renamed = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
        if name in renamed:  # FROM t AS x(a, b) renames t's first columns
            position = renamed.index(name)
            if position >= len(columns):
                raise _CannotFollow(f"{listed} has no column {position + 1} to name {name!r}")
            return frozenset({(listed, list(columns.values())[position])})
        if name not in columns:
            raise _CannotFollow(f"{listed} has no column {name!r}")
        return frozenset({(listed, columns[name])})

    def scope_column(self, scope: Scope, name: str) -> frozenset[Source]:
        """The input columns the column ``name`` of a query in FROM or WITH derives from."""
        key = (id(scope), name)
        if key in self.memo:
            return self.memo[key]
        expression = scope.expression
        if id(scope) not in self.traversed:
            if _recursive_cte(expression.parent):
                return frozenset()  # a recursive CTE's rows so far: widened where it is read
            raise _CannotFollow("a relation sqlglot does not scope")
        if _recursive_cte(expression):
            derived = self.every_column(scope, None)
        elif isinstance(expression, exp.SetOperation):
            branches = list(_branches(scope))
            if expression.args.get("by_name"):
                derived = self.by_name(branches, name)
            else:
                names = [select.alias_or_name for select in _selects(branches[0].expression)]
                if name not in names:
                    raise _CannotFollow(f"the set operation has no column {name!r}")
                derived = self.by_position(branches, names.index(name))
        elif isinstance(expression, exp.Select):
            selects = [select for select in _selects(expression) if select.alias_or_name == name]
            if not selects or any(_unexpanded(select) for select in _selects(expression)):
                raise _CannotFollow(f"sqlglot finds no column {name!r} where it is read")
            derived = frozenset().union(*(self.expression(s, scope) for s in selects))
        elif isinstance(expression, exp.Lateral) and scope.subquery_scopes:
            inner = scope.subquery_scopes[0]
            names = [select.alias_or_name for select in _selects(_first(inner.expression))]
            derived = (
                self.scope_column(inner, name) if name in names else self.every_column(inner, None)
            )
        elif isinstance(expression, exp.UDTF):
            derived = self.expression(expression, scope)  # unnest(x): all its arguments
        else:
            raise _CannotFollow(f"sqlglot does not follow a {type(expression).__name__}")
        self.memo[key] = derived
        return derived

    def every_column(self, source: exp.Table | Scope, owner: Scope | None) -> frozenset[Source]:
        """All that any column of a relation derives from; ``owner`` reads it."""
        if isinstance(source, exp.Table):
            if not isinstance(source.this, exp.Identifier) and owner is not None:
                return self.expression(source.this, owner)  # a table function: its arguments
            listed = self.input_of(source)
            if listed is None:
                raise _CannotFollow(f"the relation {source.name!r} is not an input")
            return self.inputs.every([listed])
        if not isinstance(source.expression, exp.Select | exp.SetOperation):
            return self.scope_column(source, "")
        derived: frozenset[Source] = frozenset()
        for branch in _branches(source):
            for select in _selects(branch.expression):
                if _unexpanded(select):
                    raise _CannotFollow("a star over columns sqlglot does not know")
                derived |= self.expression(select, branch)
        return derived


def _lambda_parameters(node: exp.Expr) -> set[str]:
    """The names of the lambdas and comprehensions ``node`` is inside of."""
    names: set[str] = set()
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Lambda):
            names |= {parameter.name for parameter in parent.expressions}
        elif isinstance(parent, exp.Comprehension):
            names.add(parent.expression.name)
        parent = parent.parent
    return names


def _path(node: exp.Expr) -> list[str] | None:
    """The names of a path of bare names (a.b.c), or None for any other expression."""
    if isinstance(node, exp.Identifier):
        return [node.name]
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        head = _path(node.this)
        return None if head is None else [*head, node.expression.name]
    return None


def _first(tree: exp.Expr) -> exp.Expr:
    """The SELECT that names a query's columns: a set operation's first."""
    while isinstance(tree, exp.SetOperation):
        tree = tree.this
    return tree.unnest()


def _selects(expression: exp.Expr) -> list[exp.Expr]:
    """A SELECT's projections (a set operation's are its first SELECT's)."""
    return list(expression.selects) if isinstance(expression, exp.Query) else []


def _branches(scope: Scope) -> Iterator[Scope]:
    """The scopes of a set operation's SELECTs, left to right; a SELECT's own scope."""
    if not isinstance(scope.expression, exp.SetOperation):
        yield scope
        return
    if not scope.set_operation_scopes:
        raise _CannotFollow("a set operation sqlglot does not scope")
    for branch in scope.set_operation_scopes:
        yield from _branches(branch)


def _owner(scope: Scope | None, alias: str) -> Scope | None:
    """The scope, ``scope`` or one around it, that reads the relation ``alias``."""
    while scope is not None:
        if alias in scope.sources:
            return scope
        scope = scope.parent
    return None


def _unexpanded(projection: exp.Expr) -> bool:
    """A star or COLUMNS(...) that sqlglot could not list as columns."""
    if isinstance(projection, exp.Alias):
        projection = projection.this
    if isinstance(projection, exp.Binary) and isinstance(projection.this, exp.Star):
        return True  # DuckDB's * LIKE 'e%': the columns whose names match
    if isinstance(projection, exp.Star) or projection.find(exp.Columns) is not None:
        return True  # min(COLUMNS(*)) is a column per column too
    return isinstance(projection, exp.Column | exp.Dot) and projection.is_star


def _counts(node: exp.Expr) -> bool:
    if isinstance(node, _COUNTING_NODES):
        return True
    return isinstance(node, exp.Anonymous) and str(node.name).lower() in COUNTING


def _recursive_cte(expression: exp.Expr | None) -> bool:
    """Whether ``expression`` is a set operation that is the body of a recursive CTE."""
    cte = expression.parent if expression is not None else None
    return (
        isinstance(expression, exp.SetOperation)
        and isinstance(cte, exp.CTE)
        and isinstance(cte.parent, exp.With)
        and bool(cte.parent.args.get("recursive"))
    )
