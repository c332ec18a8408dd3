"""A port's rules as SQL: aggregates that all share one scan, and what statistics spare.

Each rule becomes one aggregate expression and, where rows can break it, a row
predicate; every rule of a port shares a single scan, and a few failing rows (their key
and the offending value) are sampled by the same scan, never columns classified as PII.
The builders of the larger measures (repeated values, invalid values, a SQL rule's
query, a reference's orphans) are here too, so that the SQL of a rule is written where
the query it joins is assembled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quanta.model.catalog import TableStats
from quanta.model.contract import Contract
from quanta.model.result import Severity
from quanta.quality.rules import FLAG_PREFIX, RELATION, QualityRule, Threshold
from quanta.quality.statistics import UNKNOWN, answer, percent
from quanta.sql_text import literal, quote

SAMPLE_ROWS = 5
REPEAT = f"{FLAG_PREFIX}repeat"
PLACEHOLDERS = ("${table}", "${object}", "{table}", "{object}")
THIS_NAME = "__this"
THIS = quote(THIS_NAME)
"""How a SQL rule's text names the port's rows, when it is checked and when it runs."""
NONE_BREAK = Threshold("mustBe", 0)
"""No row may break the rule."""


@dataclass
class Measures:
    sql: dict[str, str] = field(default_factory=dict)
    """Aggregates over the port's rows, by measure key."""
    flags: dict[str, str] = field(default_factory=dict)
    """Row predicates the aggregates read by name."""
    known: dict[str, Any] = field(default_factory=dict)
    """Measures the snapshot's statistics answered: no scan needed."""


def measures(
    rules: list[QualityRule],
    contract: Contract,
    relation: str = '"t"',
    prefix: str = "q",
    stats: TableStats | None = None,
    key_range: Callable[[str, str, str], tuple[int, int] | None] | None = None,
) -> Measures:
    """The aggregates for all rules, the row flags they read, and what statistics answer.

    A rule the statistics settle is left out of the scan: a table measure always, a
    row-level rule when it passes (one that fails is scanned, for its sample rows).

    Each row-level rule's predicate becomes one flag column, evaluated once per row and
    read by both its count and its sample. A sample row holds the primary key (or, without
    one, the first column) and the rule's column: enough to find the row and see the value,
    cheap enough to take in the same scan. Columns classified as PII or restricted are
    never sampled.

    A reference to a column that holds every whole number from ``low`` to ``high`` and
    nothing else (``key_range`` says which do, as surrogate keys often are) is a range
    check: the same rows fail it as the lookup, found in the one scan, with no join.
    """
    hidden = set(contract.private_columns)
    key = contract.primary_key or [contract.columns[0].name]
    result = Measures()
    found, flags = result.sql, result.flags
    for index, rule in enumerate(rules):
        name = f"{prefix}{index}"
        if key_range is not None and rule.reference and rule.referenced and rule.column:
            span = key_range(rule.column, rule.reference, rule.referenced)
            if span is not None:
                rule = dataclasses.replace(
                    rule, count_sql=outside(rule.column, span), table_sql=None, sample_sql=None
                )
        known = _known(rule, stats)
        if known is not UNKNOWN:
            result.known[name] = known
            continue
        shown = [
            column
            for column in dict.fromkeys([*key, rule.column or ""])
            if column and column not in hidden
        ]
        fields = ", ".join(f"{quote(n)} := {quote(n)}" for n in shown)
        if rule.count_sql is not None:
            flag = quote(f"{FLAG_PREFIX}{name}")
            flags[flag] = rule.count_sql
            # count(*) FILTER costs a selection per aggregate; count_if counts as it goes.
            failing = f"count_if({flag})::BIGINT"
            found[name] = (
                f"round(100.0 * {failing} / nullif(count(*), 0), 4)" if rule.percent else failing
            )
            if shown:
                found[f"{name}:sample"] = (
                    f"min_by(struct_pack({fields}), 0, {SAMPLE_ROWS}) FILTER (WHERE {flag})"
                )
        elif rule.sample_sql is not None:
            # One pass over the failing rows gives both their count and a sample of them.
            rows = rule.sample_sql.replace(RELATION, relation)
            fields = ", ".join(f"{quote(n)} := o.{quote(n)}" for n in shown)
            sample = f"min_by(struct_pack({fields}), 0, {SAMPLE_ROWS})" if shown else "NULL"
            count = "count(*)"
            if rule.percent:
                total = stats.rows if stats else f"(SELECT count(*) FROM {relation})"
                count = f"round(100.0 * count(*) / nullif({total}, 0), 4)"
            found[name] = f"(SELECT struct_pack(n := {count}, sample := {sample}) {rows})"
        else:
            found[name] = rule.measure().replace(RELATION, relation)
    return result


def _known(rule: QualityRule, stats: TableStats | None) -> Any:
    """The rule's measure from statistics, when they settle it; else `UNKNOWN`."""
    if stats is None or rule.statistic is None:
        return UNKNOWN
    value = answer(rule.statistic, stats)
    if value is UNKNOWN or rule.count_sql is None:
        return value
    if rule.percent:
        value = percent(value, stats.rows)
    if value is not None and not rule.threshold.holds(value):
        return UNKNOWN  # it fails: scan it, for a sample of the failing rows
    return value


def repeats(
    name: str,
    columns: list[str],
    *,
    threshold: Threshold = NONE_BREAK,
    column: str | None = None,
    percent: bool = False,
    severity: Severity = Severity.ERROR,
) -> QualityRule:
    """Rows whose value of ``columns`` repeats another row's (NULL never repeats).

    The rows are sorted on the value and each compared with the one before: cheaper than
    hashing every distinct value (much cheaper when the table is nearly in order, as
    append-only tables with growing keys are), and the repeated values come out as the
    rule's sample.
    """
    if len(columns) == 1:
        value = quote(columns[0])
        same = f"{value} = lag({value}) OVER (ORDER BY {value})"
    else:
        # Several columns repeat as a whole, NULLs in them equal, as DISTINCT counts them.
        fields = ", ".join(f"{quote(c)} := {quote(c)}" for c in columns)
        order = ", ".join(quote(c) for c in columns)
        same = (
            f"struct_pack({fields}) IS NOT DISTINCT FROM "
            f"lag(struct_pack({fields})) OVER (ORDER BY {order})"
        )
    return QualityRule(
        name=name,
        threshold=threshold,
        column=column,
        columns=tuple(columns),
        percent=percent,
        severity=severity,
        sample_sql=(
            f"FROM (SELECT *, {same} AS {quote(REPEAT)} FROM {RELATION}) AS o "
            f"WHERE o.{quote(REPEAT)}"
        ),
    )


def invalid_rows(
    quoted: str,
    logical: str,
    valid: list[Any] | None,
    pattern: str | None,
    bounds: dict[str, Any],
) -> str:
    """The predicate of rows whose value ``quoted`` is invalid by any of the checks given:
    not among ``valid``, not matching ``pattern``, outside ``bounds`` (minimum, maximum)."""
    parts: list[str] = []
    if valid is not None:
        listed = [value for value in valid if value is not None]  # NULL is never invalid here
        if listed and logical == "string":
            # A list lookup runs once per distinct value of a dictionary-encoded column;
            # IN runs per row.
            parts.append(f"NOT list_contains({literal(listed)}, {quoted})")
        elif listed:
            parts.append(f"{quoted} NOT IN ({', '.join(literal(value) for value in listed)})")
    if pattern is not None:
        parts.append(f"NOT regexp_full_match({quoted}, {literal(pattern)})")
    if bounds:
        comparisons = [
            f"{quoted} {'>=' if key == 'minimum' else '<='} {literal(value)}"
            for key, value in bounds.items()
        ]
        parts.append(f"NOT ({' AND '.join(comparisons)})")
    return " OR ".join(f"({part})" for part in parts) if parts else "false"


def sql_rule_text(query: str) -> str:
    """A SQL rule's query with the port's rows named `THIS`, as it is checked and run."""
    # That very text runs, under a CTE of that name: text glued to ${table}
    # (email${table}) reads the same to the guard as to the engine.
    checked = query.strip().rstrip(";")
    for placeholder in PLACEHOLDERS:
        checked = checked.replace(placeholder, THIS)
    return checked


def sql_rule_measure(checked: str) -> str:
    """The value of a SQL rule (its text from `sql_rule_text`), as a subquery of the scan."""
    # On lines of its own: a trailing -- comment must not swallow the parenthesis.
    return f"(WITH {THIS} AS (SELECT * FROM {RELATION})\nSELECT * FROM (\n{checked}\n))"


def outside(column: str, span: tuple[int, int]) -> str:
    """The rows whose ``column`` lies outside ``span``: of a whole-number key that holds
    every number of its span, the orphans (NULL is never one)."""
    low, high = span
    return f"{quote(column)} IS NOT NULL AND NOT ({quote(column)} BETWEEN {low} AND {high})"


def orphans(column: str, port: str, other: str) -> str:
    """FROM ... WHERE of the rows whose ``column`` is not found in ``other`` of ``port``."""
    # An anti-join on one column, computed beside the single scan of all other rules: a
    # subquery inside that scan would carry every row through the join.
    return (
        f"FROM {RELATION} AS o ANTI JOIN {quote(port)} AS r ON o.{quote(column)} = "
        f"r.{quote(other)} WHERE o.{quote(column)} IS NOT NULL"
    )
