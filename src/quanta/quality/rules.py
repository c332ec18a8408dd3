"""Quality rules declared in a contract, compiled into aggregates over one scan.

A contract declares rules in two ODCS ways, both read here:

- on a column: ``required``, ``unique`` and ``logicalTypeOptions`` (``minimum``,
  ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``pattern``, ``minLength``,
  ``maxLength``);
- in ``quality`` lists on a column or the table: the ODCS library metrics
  (``nullValues``, ``missingValues``, ``invalidValues``, ``duplicateValues``,
  ``rowCount``) with a comparison (``mustBe``, ``mustBeLessThan``, ``mustBeBetween``, ...),
  a ``unit`` (``rows`` or ``percent``) and a ``severity`` (``error`` blocks a publish;
  ``warning`` and ``info`` are recorded).

Each rule becomes one aggregate expression and, where rows can break it, a row
predicate; every rule of a port shares a single scan, and a few failing rows (their key
and the offending value) are sampled by the same scan, never columns classified as PII.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from quanta.model.catalog import TableStats
from quanta.model.contract import Contract
from quanta.model.result import Check, Outcome
from quanta.quality.statistics import ISO_DATE_TIME, UNKNOWN, Statistic, answer, percent
from quanta.sql_text import literal, quote

SAMPLE_ROWS = 5
MAX_COLUMNS = 2000
MAX_RULES = 1000
"""A port's contract is checked in one statement: past these, it would be slow to compile."""
METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "mustBe": lambda observed, value: observed == value,
    "mustNotBe": lambda observed, value: observed != value,
    "mustBeGreaterThan": lambda observed, value: observed > value,
    "mustBeGreaterOrEqualTo": lambda observed, value: observed >= value,
    "mustBeLessThan": lambda observed, value: observed < value,
    "mustBeLessOrEqualTo": lambda observed, value: observed <= value,
    "mustBeBetween": lambda observed, value: value[0] <= observed <= value[1],
    "mustNotBeBetween": lambda observed, value: not value[0] <= observed <= value[1],
}
SYMBOLS = {
    "mustBe": "=",
    "mustNotBe": "!=",
    "mustBeGreaterThan": ">",
    "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<",
    "mustBeLessOrEqualTo": "<=",
    "mustBeBetween": "between",
    "mustNotBeBetween": "not between",
}


RELATION = "\x00relation\x00"
"""Stands for the port's rows in a rule's SQL until the query is assembled."""
FLAG_PREFIX = "__quanta_flag_"
REPEAT = f"{FLAG_PREFIX}repeat"


@dataclass(frozen=True)
class Threshold:
    operator: str
    value: Any

    def holds(self, observed: Any) -> bool:
        return OPERATORS[self.operator](observed, self.value)

    def __str__(self) -> str:
        if isinstance(self.value, list):
            return f"{SYMBOLS[self.operator]} {self.value[0]} and {self.value[1]}"
        return f"{SYMBOLS[self.operator]} {self.value}"


@dataclass(frozen=True)
class QualityRule:
    """One rule: what it measures over the table, and when the measure passes."""

    name: str
    threshold: Threshold
    count_sql: str | None = None
    """Rows breaking the rule: a predicate for a row-level rule."""
    table_sql: str | None = None
    """The measure itself, for a table-level rule (row count, duplicates)."""
    column: str | None = None
    percent: bool = False
    severity: str = "error"
    reference: str | None = None
    """The input port a reference rule reads besides the port's own rows."""
    sample_sql: str | None = None
    """For a table-level rule whose failing rows can be listed: their FROM ... WHERE."""
    hide_observed: bool = False
    """The observed value may show data of columns classified as PII: never report it."""
    duration: bool = False
    """The measure is an age in seconds, shown in the largest unit that fits."""
    statistic: Statistic | None = None
    """The same measure in terms a snapshot's statistics may answer without a scan."""

    def measure(self) -> str:
        if self.table_sql is not None:
            return self.table_sql
        failing = f"count(*) FILTER (WHERE {self.count_sql})"
        if self.percent:
            return f"round(100.0 * {failing} / nullif(count(*), 0), 4)"
        return failing


@dataclass
class RuleProblem:
    """A rule that cannot run as written, and where it is in the contract."""

    loc: tuple[str | int, ...]
    message: str
    hint: str


@dataclass
class CompiledRules:
    rules: list[QualityRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)


def compile_contract(contract: Contract, inputs: set[str] | None = None) -> CompiledRules:
    """Every quality rule of the contract's table, or the problems that keep one from running.

    ``inputs`` names the product's input ports, which references must point at; None
    leaves that unchecked (the build resolves them).
    """
    compiled = CompiledRules()
    declared = len(contract.table.quality) + len(contract.sla_properties)
    declared += sum(len(column.quality) for column in contract.columns)
    if len(contract.columns) > MAX_COLUMNS or declared > MAX_RULES:
        compiled.problems.append(
            RuleProblem(
                ("schema", 0),
                f"the contract declares {len(contract.columns):,} columns and {declared:,} "
                f"rules: Quanta checks at most {MAX_COLUMNS:,} columns and {MAX_RULES:,} rules "
                "per port",
                "split the port, or keep the rules that matter",
            )
        )
        return compiled
    types: dict[str, str] = {column.name: column.logical_type for column in contract.columns}
    hidden = set(contract.private_columns)
    for index, column in enumerate(contract.columns):
        loc: tuple[str | int, ...] = ("schema", 0, "properties", index)
        extra = column.model_extra or {}
        if column.name.startswith(FLAG_PREFIX):
            compiled.problems.append(
                RuleProblem(
                    (*loc, "name"),
                    f"column names starting with {FLAG_PREFIX} are Quanta's",
                    "rename it",
                )
            )
        _column_options(column.name, column.logical_type, extra, column.unique, loc, compiled)
        for rule_index, spec in enumerate(column.quality):
            _library_rule(spec, column.name, (*loc, "quality", rule_index), types, hidden, compiled)
        relationships = extra.get("relationships") or []
        if not isinstance(relationships, list):
            compiled.problems.append(
                RuleProblem(
                    (*loc, "relationships"),
                    "relationships must be a list",
                    "write - {type: foreignKey, to: ...}",
                )
            )
            relationships = []
        for rule_index, relation in enumerate(relationships):
            _reference(column.name, relation, (*loc, "relationships", rule_index), inputs, compiled)
    for rule_index, spec in enumerate(contract.table.quality):
        _library_rule(spec, None, ("schema", 0, "quality", rule_index), types, hidden, compiled)
    for index, level in enumerate(contract.sla_properties):
        if level.property == "freshness":
            _freshness(
                level, ("slaProperties", index), contract.table.name, types, hidden, compiled
            )
        elif level.property == "completeness":
            _completeness(level, ("slaProperties", index), contract.table.name, types, compiled)
    _unique_names(compiled.rules)
    return compiled


def _severity(value: Any, loc: tuple[str | int, ...], compiled: CompiledRules) -> str | None:
    """The rule's severity (error when not given), or None after reporting a wrong one."""
    severity = str(value if value is not None else "error").lower()
    if severity in ("error", "warning", "info"):
        return severity
    compiled.problems.append(
        RuleProblem(
            loc, f"unknown severity {severity!r}", "use error (blocks publishing), warning or info"
        )
    )
    return None


def _unique_names(rules: list[QualityRule]) -> None:
    """Two rules with one name would mix their results and history: number the repeats."""
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        count = seen.get(rule.name, 0) + 1
        seen[rule.name] = count
        if count > 1:
            rules[index] = replace(rule, name=f"{rule.name} ({count})")


SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


def _freshness(
    level: Any,
    loc: tuple[str | int, ...],
    table: str,
    types: dict[str, str],
    hidden: set[str],
    compiled: CompiledRules,
) -> None:
    """Service level: the newest value of ``element`` is at most ``value unit`` old.

    Service levels are measured, not enforced at publish: a stale table warns.
    """
    column = (level.element or "").split(".")[-1]
    if types.get(column) not in ("timestamp", "date"):
        compiled.problems.append(
            RuleProblem(
                (*loc, "element"),
                f"freshness needs a date or time column to measure, not {level.element!r}",
                f"write element: {table}.<column>",
            )
        )
        return
    unit = str(level.unit or "d").lower()
    value = level.value
    if unit not in SECONDS or isinstance(value, bool) or not isinstance(value, int | float):
        compiled.problems.append(
            RuleProblem(
                (*loc, "unit" if unit not in SECONDS else "value"),
                f"freshness of {value!r} {unit!r} is not a duration",
                "write a number and a unit: s, min, h, d or w (e.g. value: 1, unit: d)",
            )
        )
        return
    limit = value * SECONDS[unit]
    newest = f"CAST(max({quote(column)}) AS TIMESTAMPTZ)"
    if types[column] == "date":
        newest = f"({newest} + INTERVAL 1 DAY)"  # a day's data is complete at its end
    compiled.rules.append(
        QualityRule(
            name=f"freshness {column} within {value} {unit}",
            threshold=Threshold("mustBeLessOrEqualTo", limit),
            table_sql=f"date_diff('second', {newest}, now())",
            column=column,
            severity="warning",
            duration=True,
            statistic=Statistic("age", column, types[column]),
            # The age of the newest value is a value of the column: a birth date's, say.
            hide_observed=column in hidden,
        )
    )


def _completeness(
    level: Any,
    loc: tuple[str | int, ...],
    table: str,
    types: dict[str, str],
    compiled: CompiledRules,
) -> None:
    """Service level: at least ``value`` percent of the rows have every value of
    ``element`` (a column, or the whole table: all declared columns). It warns."""
    element = level.element or table
    # table.column, a bare column name (as freshness takes it), or the table itself
    column = element.split(".")[-1] if element != table else None
    if column is not None and column not in types:
        compiled.problems.append(
            RuleProblem(
                (*loc, "element"),
                f"completeness is measured on {element!r}, which the contract does not declare",
                f"write element: {table} (every column) or {table}.<column>",
            )
        )
        return
    value = level.value
    unit = str(level.unit or "percent").lower()
    if (
        unit not in ("percent", "%")
        or isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= 100
    ):
        compiled.problems.append(
            RuleProblem(
                (*loc, "value" if unit in ("percent", "%") else "unit"),
                f"completeness of {value!r} {unit!r} is not a percentage",
                "write a number from 0 to 100 and unit: percent (e.g. value: 99.5)",
            )
        )
        return
    columns = [column] if column else list(types)
    present = " AND ".join(f"{quote(name)} IS NOT NULL" for name in columns)
    compiled.rules.append(
        QualityRule(
            name=f"completeness {column or table} at least {value} %",
            threshold=Threshold("mustBeGreaterOrEqualTo", value),
            table_sql=f"round(100.0 * count(*) FILTER (WHERE {present}) / nullif(count(*), 0), 4)",
            column=column,
            percent=True,
            severity="warning",
            statistic=Statistic("complete", columns=tuple(columns)),
        )
    )


def _reference(
    column: str,
    relation: Any,
    loc: tuple[str | int, ...],
    inputs: set[str] | None,
    compiled: CompiledRules,
) -> None:
    """A foreign key: every value is found in a column of one of the product's input ports."""
    if not isinstance(relation, dict) or relation.get("type", "foreignKey") != "foreignKey":
        return
    target = str(relation.get("to", ""))
    port, _, other = target.rpartition(".")
    if not port or not other:
        compiled.problems.append(
            RuleProblem(
                (*loc, "to"),
                f"the reference {target!r} names no column",
                "write to: <input port>.<column>",
            )
        )
        return
    if inputs is not None and port not in inputs:
        known = ", ".join(sorted(inputs)) or "none"
        compiled.problems.append(
            RuleProblem(
                (*loc, "to"),
                f"the reference reads {port!r}, which is not an input port of this product",
                f"declare it as an input port (input ports: {known})",
            )
        )
        return
    # An anti-join on one column, computed beside the single scan of all other rules: a
    # subquery inside that scan would carry every row through the join.
    orphans = (
        f"FROM {RELATION} AS o ANTI JOIN {quote(port)} AS r ON o.{quote(column)} = "
        f"r.{quote(other)} WHERE o.{quote(column)} IS NOT NULL"
    )
    # ODCS gives relationships no severity; a customProperty named severity can.
    given = next(
        (
            item.get("value")
            for item in relation.get("customProperties") or []
            if isinstance(item, dict) and item.get("property") == "severity"
        ),
        None,
    )
    severity = _severity(given, (*loc, "customProperties"), compiled)
    if severity is None:
        return
    compiled.rules.append(
        QualityRule(
            name=f"{column} references {target}",
            threshold=Threshold("mustBe", 0),
            table_sql=f"(SELECT count(*) {orphans})",
            column=column,
            reference=port,
            severity=severity,
            sample_sql=orphans,
        )
    )


def _column_options(
    name: str,
    logical: str,
    extra: dict[str, Any],
    unique: bool,
    loc: tuple[str | int, ...],
    compiled: CompiledRules,
) -> None:
    column = quote(name)
    if unique:
        compiled.rules.append(repeats(f"{name} unique", [name], column=name))
    options = extra.get("logicalTypeOptions") or {}
    if not isinstance(options, dict):
        compiled.problems.append(
            RuleProblem(
                (*loc, "logicalTypeOptions"),
                "logicalTypeOptions must be a mapping",
                "write it as {minimum: 0, maximum: 100}",
            )
        )
        return
    bounds = {
        "minimum": ">=",
        "exclusiveMinimum": ">",
        "maximum": "<=",
        "exclusiveMaximum": "<",
    }
    for key, symbol in bounds.items():
        if key not in options:
            continue
        value = options[key]
        bound = _bound_problem(key, value, logical)
        if bound:
            compiled.problems.append(RuleProblem((*loc, "logicalTypeOptions", key), *bound))
            continue
        compiled.rules.append(
            QualityRule(
                name=f"{name} {symbol} {value}",
                threshold=Threshold("mustBe", 0),
                count_sql=f"NOT ({column} {symbol} {literal(value)})",
                column=name,
                statistic=Statistic("outside", name, logical, ((symbol, value),)),
            )
        )
    if "pattern" in options:
        pattern = options["pattern"]
        problem = _pattern_problem(pattern)
        if problem:
            compiled.problems.append(
                RuleProblem(
                    (*loc, "logicalTypeOptions", "pattern"), problem, "fix the regular expression"
                )
            )
        else:
            compiled.rules.append(
                QualityRule(
                    name=f"{name} matches {pattern}",
                    threshold=Threshold("mustBe", 0),
                    count_sql=f"NOT regexp_full_match({column}, {literal(pattern)})",
                    column=name,
                )
            )
    for key, symbol in (("minLength", ">="), ("maxLength", "<=")):
        if key not in options:
            continue
        value = options[key]
        if logical != "string":
            compiled.problems.append(
                RuleProblem(
                    (*loc, "logicalTypeOptions", key),
                    f"{key} applies to text, and this column is {logical}",
                    "remove it, or use minimum and maximum",
                )
            )
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            compiled.problems.append(
                RuleProblem(
                    (*loc, "logicalTypeOptions", key),
                    f"{key} {value!r} is not a whole number",
                    f"write {key}: 3",
                )
            )
            continue
        compiled.rules.append(
            QualityRule(
                name=f"{name} length {symbol} {value}",
                threshold=Threshold("mustBe", 0),
                count_sql=f"NOT (length({column}) {symbol} {value})",
                column=name,
            )
        )


def _bound_problem(key: str, value: Any, logical: str) -> tuple[str, str] | None:
    """Why ``value`` cannot bound a column of type ``logical``, as (message, hint)."""
    numeric = logical in ("integer", "number")
    timely = logical in ("date", "timestamp")
    if isinstance(value, bool):
        return f"{key} {value!r} is not a number or a date", f"write {key}: 0"
    if numeric and not isinstance(value, int | float):
        return f"{key} {value!r} is not a number, and the column is {logical}", f"write {key}: 0"
    if timely and not (
        isinstance(value, date) or (isinstance(value, str) and ISO_DATE_TIME.fullmatch(value))
    ):
        return (
            f"{key} {value!r} is not a date, and the column is {logical}",
            f"write {key}: 2024-01-01 (or 2024-01-01 08:00:00)",
        )
    if not numeric and not timely:
        return (
            f"{key} bounds numbers and dates, and this column is {logical}",
            "use a pattern or validValues for text",
        )
    return None


def _library_rule(
    spec: Any,
    column: str | None,
    loc: tuple[str | int, ...],
    types: dict[str, str],
    hidden: set[str],
    compiled: CompiledRules,
) -> None:
    if not isinstance(spec, dict):
        compiled.problems.append(
            RuleProblem(
                loc, "a quality rule must be a mapping", "write - {metric: nullValues, mustBe: 0}"
            )
        )
        return
    names = set(types)
    kind = spec.get("type", "library")
    if kind == "text":
        return  # prose for people; nothing to run
    if kind == "sql":
        _sql_rule(spec, column, loc, hidden, compiled)
        return
    if kind != "library":
        compiled.problems.append(
            RuleProblem(
                (*loc, "type"),
                f"quality rules of type {kind!r} are not run yet",
                "use a library metric: " + ", ".join(METRICS),
            )
        )
        return
    metric = spec.get("metric", spec.get("rule"))
    if metric not in METRICS:
        compiled.problems.append(
            RuleProblem(
                (*loc, "metric"),
                f"unknown quality metric {metric!r}",
                "use one of " + ", ".join(METRICS),
            )
        )
        return
    threshold = _threshold(spec, loc, compiled)
    if threshold is None:
        return
    arguments = spec.get("arguments") or {}
    if not isinstance(arguments, dict):
        compiled.problems.append(
            RuleProblem(
                (*loc, "arguments"),
                "arguments must be a mapping",
                "write arguments: {validValues: [a, b]}",
            )
        )
        return
    target = spec.get("column", column)
    if metric != "rowCount" and target is None:
        compiled.problems.append(
            RuleProblem(
                loc,
                f"{metric} needs a column",
                "declare the rule under a column's quality, or add column: NAME",
            )
        )
        return
    if target is not None and target not in names:
        compiled.problems.append(
            RuleProblem(
                loc,
                f"the rule is on column {target!r}, which the contract does not declare",
                f"use one of {', '.join(sorted(names))}",
            )
        )
        return
    severity = _severity(spec.get("severity"), (*loc, "severity"), compiled)
    if severity is None:
        return
    unit = spec.get("unit", "rows")
    if unit not in ("rows", "percent"):
        compiled.problems.append(
            RuleProblem((*loc, "unit"), f"unknown unit {unit!r}", "use rows or percent")
        )
        return
    percent = unit == "percent"
    label = f"{target + ' ' if target else ''}{metric} {threshold}{' %' if percent else ''}"
    base = {
        "name": spec.get("name") or label,
        "threshold": threshold,
        "column": target,
        "percent": percent,
        "severity": severity,
    }
    quoted = quote(target) if target else ""
    if metric == "rowCount":
        compiled.rules.append(
            QualityRule(table_sql="count(*)", statistic=Statistic("rows"), **base)
        )
    elif metric == "nullValues":
        compiled.rules.append(
            QualityRule(
                count_sql=f"{quoted} IS NULL", statistic=Statistic("nulls", target or ""), **base
            )
        )
    elif metric == "missingValues":
        # Empty text counts as missing in text columns; other types can only be NULL.
        text = types.get(target or "") == "string"
        missing = arguments.get("missingValues", [None, ""] if text else [None])
        if not isinstance(missing, list):
            compiled.problems.append(
                RuleProblem(
                    (*loc, "arguments", "missingValues"),
                    "missingValues must be a list",
                    "write missingValues: ['', 'N/A']",
                )
            )
            return
        listed = [value for value in missing if value is not None]
        parts = [f"{quoted} IS NULL"] + (
            [f"{quoted} IN ({', '.join(literal(v) for v in listed)})"] if listed else []
        )
        statistic = None if listed else Statistic("nulls", target or "")
        compiled.rules.append(
            QualityRule(count_sql=" OR ".join(parts), statistic=statistic, **base)
        )
    elif metric == "invalidValues":
        logical = types.get(target or "", "string")
        predicate = _invalid(quoted, logical, arguments, loc, compiled)
        if predicate is not None:
            compiled.rules.append(
                QualityRule(
                    count_sql=predicate,
                    statistic=_range_statistic(target or "", logical, arguments),
                    **base,
                )
            )
    elif metric == "duplicateValues":
        compiled.rules.append(repeats(columns=[target or ""], **base))


PLACEHOLDERS = ("${table}", "${object}", "{table}", "{object}")
THIS = quote("__this")
"""How a SQL rule's text names the port's rows, when it is checked and when it runs."""


def _sql_rule(
    spec: dict[str, Any],
    column: str | None,
    loc: tuple[str | int, ...],
    hidden: set[str],
    compiled: CompiledRules,
) -> None:
    """A custom SQL rule: one value from a query that reads only this port's own rows.

    The query names the port's rows as ``${table}`` (or ``${object}``); it runs read-only,
    as a subquery of the same statement as the other rules.
    """
    from quanta.build.sql_guard import check_sql, reads_any, selected_width

    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        compiled.problems.append(
            RuleProblem(
                (*loc, "query"),
                "a sql rule needs a query",
                "write query: SELECT count(*) FROM ${table} WHERE ...",
            )
        )
        return
    threshold = _threshold(spec, loc, compiled)
    if threshold is None:
        return
    # The port's rows are named "__this" in the text that is checked, and that very text
    # runs, under a CTE of that name: text glued to ${table} (email${table}) reads the same
    # to the guard as to the engine.
    checked = query.strip().rstrip(";")
    for placeholder in PLACEHOLDERS:
        checked = checked.replace(placeholder, THIS)
    for problem in check_sql(checked, [("__this",)], purpose="a quality rule"):
        message = problem.message.replace("'__this'", "${table}")
        hint = (
            "read only this port's rows, as ${table}" if "not declared" in message else problem.hint
        )
        compiled.problems.append(RuleProblem((*loc, "query"), message, hint))
        return
    severity = _severity(spec.get("severity"), (*loc, "severity"), compiled)
    if severity is None:
        return
    width = selected_width(checked)
    if width != 1:
        returns = "every column" if width is None else f"{width} columns"
        compiled.problems.append(
            RuleProblem(
                (*loc, "query"),
                f"the query returns {returns}; a rule compares one value",
                "select one value, e.g. SELECT count(*) FROM ${table} ...",
            )
        )
        return
    compiled.rules.append(
        QualityRule(
            name=spec.get("name") or f"sql {threshold}: {' '.join(query.split())[:60]}",
            threshold=threshold,
            # On lines of its own: a trailing -- comment must not swallow the parenthesis.
            table_sql=f"(WITH {THIS} AS (SELECT * FROM {RELATION})\nSELECT * FROM (\n{checked}\n))",
            column=column,
            severity=severity,
            # Decided from what the query can reach, not from how it spells columns.
            hide_observed=reads_any(checked, hidden),
        )
    )


def _invalid(
    quoted: str,
    logical: str,
    arguments: dict[str, Any],
    loc: tuple[str | int, ...],
    compiled: CompiledRules,
) -> str | None:
    """Rows whose value is not valid: outside validValues, not matching the pattern, or out
    of the range (Quanta's extension of the open arguments); all that are given apply."""
    valid = arguments.get("validValues")
    pattern = arguments.get("pattern")
    bounds = {key: arguments[key] for key in ("minimum", "maximum") if key in arguments}
    if valid is None and pattern is None and not bounds:
        compiled.problems.append(
            RuleProblem(
                (*loc, "arguments"),
                "invalidValues needs validValues, a pattern, or a minimum and maximum",
                "add arguments: {validValues: [a, b]}, {pattern: '^[A-Z]{2}$'} or "
                "{minimum: 0, maximum: 100}",
            )
        )
        return None
    parts: list[str] = []
    if valid is not None:
        if not isinstance(valid, list) or not valid:
            compiled.problems.append(
                RuleProblem(
                    (*loc, "arguments", "validValues"),
                    "validValues must be a list",
                    "write validValues: [a, b, c]",
                )
            )
            return None
        if logical != "boolean" and any(isinstance(value, bool) for value in valid):
            compiled.problems.append(
                RuleProblem(
                    (*loc, "arguments", "validValues"),
                    f"validValues holds true or false, and the column is {logical}",
                    "quote the values: YAML reads NO, YES, ON and OFF as true or false",
                )
            )
            return None
        if logical == "string" and any(isinstance(v, int | float) for v in valid):
            compiled.problems.append(
                RuleProblem(
                    (*loc, "arguments", "validValues"),
                    "validValues holds numbers, and the column is text",
                    "quote the values, e.g. ['01', '02']",
                )
            )
            return None
        listed = [value for value in valid if value is not None]  # NULL is never invalid here
        if listed and logical == "string":
            # A list lookup runs once per distinct value of a dictionary-encoded column;
            # IN runs per row.
            parts.append(f"NOT list_contains({literal(listed)}, {quoted})")
        elif listed:
            parts.append(f"{quoted} NOT IN ({', '.join(literal(value) for value in listed)})")
    if pattern is not None:
        problem = _pattern_problem(pattern)
        if problem:
            compiled.problems.append(
                RuleProblem((*loc, "arguments", "pattern"), problem, "fix the regular expression")
            )
            return None
        parts.append(f"NOT regexp_full_match({quoted}, {literal(pattern)})")
    if bounds:
        for key, value in bounds.items():
            bound = _bound_problem(key, value, logical)
            if bound:
                compiled.problems.append(RuleProblem((*loc, "arguments", key), *bound))
                return None
        comparisons = [
            f"{quoted} {'>=' if key == 'minimum' else '<='} {literal(value)}"
            for key, value in bounds.items()
        ]
        parts.append(f"NOT ({' AND '.join(comparisons)})")
    return " OR ".join(f"({part})" for part in parts) if parts else "false"


def repeats(
    name: str,
    columns: list[str],
    *,
    threshold: Threshold = Threshold("mustBe", 0),
    column: str | None = None,
    percent: bool = False,
    severity: str = "error",
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
        percent=percent,
        severity=severity,
        sample_sql=(
            f"FROM (SELECT *, {same} AS {quote(REPEAT)} FROM {RELATION}) AS o "
            f"WHERE o.{quote(REPEAT)}"
        ),
    )


def _range_statistic(column: str, logical: str, arguments: dict[str, Any]) -> Statistic | None:
    """invalidValues given as a range only: the column's bounds may settle it."""
    if "validValues" in arguments or "pattern" in arguments:
        return None
    symbols = {"minimum": ">=", "maximum": "<="}
    comparisons = tuple((symbols[key], arguments[key]) for key in symbols if key in arguments)
    return Statistic("outside", column, logical, comparisons) if comparisons else None


def _threshold(
    spec: dict[str, Any], loc: tuple[str | int, ...], compiled: CompiledRules
) -> Threshold | None:
    given = [operator for operator in OPERATORS if operator in spec]
    if len(given) != 1:
        compiled.problems.append(
            RuleProblem(
                loc,
                "a rule needs exactly one comparison" if given else "the rule has no comparison",
                "add one of mustBe, mustBeLessThan, mustBeBetween, ... (e.g. mustBe: 0)",
            )
        )
        return None
    operator = given[0]
    value = spec[operator]
    numbers = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if operator.endswith("Between") and not (numbers and value[0] <= value[1]):
        compiled.problems.append(
            RuleProblem(
                (*loc, operator),
                f"{operator} takes two numbers, smallest first",
                f"write {operator}: [1, 100]",
            )
        )
        return None
    if not operator.endswith("Between") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        compiled.problems.append(
            RuleProblem(
                (*loc, operator),
                f"{operator} must be a number, not {value!r}",
                f"write {operator}: 0",
            )
        )
        return None
    return Threshold(operator, value)


def _pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str):
        return f"the pattern {pattern!r} is not text"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"the pattern {pattern!r} does not compile: {error}"
    except (RecursionError, OverflowError, ValueError):
        # 500 nested groups, or a{99999999999}: beyond what a pattern may ask.
        return f"the pattern {_shortened(pattern)!r} is too deep or asks for too many repeats"
    return None


def _shortened(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


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
) -> Measures:
    """The aggregates for all rules, the row flags they read, and what statistics answer.

    A rule the statistics settle is left out of the scan: a table measure always, a
    row-level rule when it passes (one that fails is scanned, for its sample rows).

    Each row-level rule's predicate becomes one flag column, evaluated once per row and
    read by both its count and its sample. A sample row holds the primary key (or, without
    one, the first column) and the rule's column: enough to find the row and see the value,
    cheap enough to take in the same scan. Columns classified as PII or restricted are
    never sampled.
    """
    hidden = set(contract.private_columns)
    key = contract.primary_key or [contract.columns[0].name]
    result = Measures()
    found, flags = result.sql, result.flags
    for index, rule in enumerate(rules):
        name = f"{prefix}{index}"
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
            failing = f"count(*) FILTER (WHERE {flag})"
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


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


KEPT_CHARACTERS = 1000
"""The most of an observed value a check result keeps (a SQL rule may return anything)."""


def kept(value: Any) -> Any:
    """A measured value as results and the catalog keep it: what JSON holds, and not much.

    Bytes (a BLOB) are told by their length; a value whose JSON is longer than
    `KEPT_CHARACTERS` is kept as the start of its text.
    """
    value = _plain(value)
    text = json.dumps(value, default=str)
    return _shortened(text, KEPT_CHARACTERS) if len(text) > KEPT_CHARACTERS else value


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value)):,} bytes>"
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def judge(
    rules: list[QualityRule], values: dict[str, Any], port: str, prefix: str = "q"
) -> list[Check]:
    checks = []
    for index, rule in enumerate(rules):
        observed = values[f"{prefix}{index}"]
        sample = values.get(f"{prefix}{index}:sample") or []
        if rule.sample_sql is not None and isinstance(observed, dict):
            # Counted and sampled in one pass (see `measures`); a SQL rule's own value
            # may be a struct too, and stays what it is.
            observed, sample = observed["n"], observed["sample"] or []
        if observed is None and rule.count_sql is not None:
            observed = 0  # no rows: none of them breaks the rule
        if isinstance(observed, float) and observed.is_integer() and not rule.percent:
            observed = int(observed)
        unit = " %" if rule.percent else ""
        shown = _shortened(repr(observed), KEPT_CHARACTERS)
        if rule.duration and isinstance(observed, int | float):
            shown = f"{_age(observed)} old"
        if rule.hide_observed:
            shown = "(hidden: the rule reads PII)"
        if observed is None:
            passed, reason = False, "nothing to measure: no rows, or only empty values"
        else:
            try:
                passed = bool(rule.threshold.holds(observed))
            except TypeError:
                passed = False
                reason = f"the value {shown} cannot be compared with {rule.threshold}"
            else:
                reason = f"observed {shown}{unit}, expected {rule.threshold}{unit}"
        if passed:
            outcome = Outcome.PASSED
        else:
            outcome = Outcome.FAILED if rule.severity == "error" else Outcome.WARNED
        checks.append(
            Check(
                name=rule.name,
                port=port,
                outcome=outcome,
                reason="" if passed else reason,
                observed=None if rule.hide_observed else kept(observed),
                expected=str(rule.threshold) + unit,
                severity=rule.severity,
                samples=[] if passed else [kept(row) for row in sample],
            )
        )
    return checks
