"""A contract's quality rules read into rule objects, or the problems that keep them from running.

Validation reports these problems at their lines and a check runs only the rules that
parsed, so this is the one place that decides what a contract's rules mean:

- a column's ``unique`` and ``logicalTypeOptions`` (`quanta.quality.column_options`) and
  ``relationships`` (a foreign key to an input port); ``required`` is conformance's;
- ``quality`` lists on a column or the table: a library ``metric`` that the registry
  (`quanta.quality.metrics`) knows, with a comparison (``mustBe``, ``mustBeBetween``, ...),
  a ``unit`` (``rows`` or ``percent``) and a ``severity`` (``error`` blocks a publish;
  ``warning`` and ``info`` are recorded); or a ``sql`` query over the port's own rows;
- service levels (``slaProperties``: `quanta.quality.service_levels`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

from quanta.model.contract import Contract
from quanta.model.result import Severity
from quanta.quality import measuring, metrics
from quanta.quality.column_options import parse_column_options
from quanta.quality.rules import (
    FLAG_PREFIX,
    OPERATORS,
    SEVERITIES,
    ParsedRules,
    QualityRule,
    RuleProblem,
    Threshold,
)
from quanta.quality.service_levels import parse_completeness, parse_freshness

MAX_COLUMNS = 2000
MAX_RULES = 1000
"""A port's contract is checked in one statement: past these, it would be slow to compile."""


def parse_rules(
    contract: Contract,
    inputs: set[str] | None = None,
    *,
    tables: frozenset[str] = frozenset(),
    private: frozenset[str] = frozenset(),
) -> ParsedRules:
    """Every quality rule of the contract's table, or the problems that keep one from running.

    ``inputs`` names the product's input ports, which references must point at; None
    leaves that unchecked (the build resolves them). ``tables`` are what a SQL rule may
    read beside its own rows: a contract from elsewhere checked where its data lives may
    join its other schema objects; a port's rules read its own rows alone. ``private``:
    the columns classified PII or restricted in those ``tables``, whose values a rule
    reading them must not show.
    """
    parsed = ParsedRules()
    declared = len(contract.table.quality) + len(contract.sla_properties)
    declared += sum(len(column.quality) for column in contract.columns)
    if len(contract.columns) > MAX_COLUMNS or declared > MAX_RULES:
        parsed.problems.append(
            RuleProblem(
                ("schema", 0),
                f"the contract declares {len(contract.columns):,} columns and {declared:,} "
                f"rules: Quanta checks at most {MAX_COLUMNS:,} columns and {MAX_RULES:,} rules "
                "per port",
                "split the port, or keep the rules that matter",
            )
        )
        return parsed
    types: dict[str, str] = {column.name: column.logical_type for column in contract.columns}
    hidden = set(contract.private_columns) | private
    for index, column in enumerate(contract.columns):
        loc: tuple[str | int, ...] = ("schema", 0, "properties", index)
        extra = column.model_extra or {}
        if column.name.startswith(FLAG_PREFIX):
            parsed.problems.append(
                RuleProblem(
                    (*loc, "name"),
                    f"column names starting with {FLAG_PREFIX} are Quanta's",
                    "rename it",
                )
            )
        parse_column_options(column.name, column.logical_type, extra, column.unique, loc, parsed)
        for rule_index, spec in enumerate(column.quality):
            where = (*loc, "quality", rule_index)
            start = len(parsed.rules)
            _listed_rule(spec, column.name, where, types, hidden, parsed, tables)
            _stamp(parsed, start, _kind_of(spec), where)
        relationships = extra.get("relationships") or []
        if not isinstance(relationships, list):
            parsed.problems.append(
                RuleProblem(
                    (*loc, "relationships"),
                    "relationships must be a list",
                    "write - {type: foreignKey, to: ...}",
                )
            )
            relationships = []
        for rule_index, relation in enumerate(relationships):
            where = (*loc, "relationships", rule_index)
            start = len(parsed.rules)
            _reference(column.name, relation, where, inputs, parsed)
            _stamp(parsed, start, "foreignKey", where)
    for rule_index, spec in enumerate(contract.table.quality):
        where = ("schema", 0, "quality", rule_index)
        start = len(parsed.rules)
        _listed_rule(spec, None, where, types, hidden, parsed, tables)
        _stamp(parsed, start, _kind_of(spec), where)
    for index, level in enumerate(contract.sla_properties):
        where = ("slaProperties", index)
        start = len(parsed.rules)
        if level.property == "freshness":
            parse_freshness(level, where, contract.table.name, types, hidden, parsed)
        elif level.property == "completeness":
            parse_completeness(level, where, contract.table.name, types, parsed)
        _stamp(parsed, start, level.property, where)
    _unique_names(parsed.rules)
    return parsed


def _kind_of(spec: Any) -> str:
    """A quality-list rule's kind: its metric, or ``sql``."""
    if not isinstance(spec, dict):
        return ""
    if spec.get("type") == "sql":
        return "sql"
    return str(spec.get("metric") or spec.get("rule") or spec.get("type") or "")


def _stamp(parsed: ParsedRules, start: int, kind: str, loc: tuple[str | int, ...]) -> None:
    """The rules parsed since ``start``, told what kind they are and where they were declared
    (unless they know better)."""
    parsed.rules[start:] = [
        dataclasses.replace(rule, kind=rule.kind or kind, loc=rule.loc or loc)
        for rule in parsed.rules[start:]
    ]


def _severity(value: Any, loc: tuple[str | int, ...], parsed: ParsedRules) -> Severity | None:
    """The rule's severity (error when not given), or None after reporting a wrong one."""
    severity = str(value if value is not None else "error").lower()
    if severity in SEVERITIES:
        return Severity(severity)
    parsed.problems.append(
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


def _reference(
    column: str,
    relation: Any,
    loc: tuple[str | int, ...],
    inputs: set[str] | None,
    parsed: ParsedRules,
) -> None:
    """A foreign key: every value is found in a column of one of the product's input ports."""
    if not isinstance(relation, dict) or relation.get("type", "foreignKey") != "foreignKey":
        return
    target = str(relation.get("to", ""))
    port, _, other = target.rpartition(".")
    if not port or not other:
        parsed.problems.append(
            RuleProblem(
                (*loc, "to"),
                f"the reference {target!r} names no column",
                "write to: <input port>.<column>",
            )
        )
        return
    if inputs is not None and port not in inputs:
        known = ", ".join(sorted(inputs)) or "none"
        parsed.problems.append(
            RuleProblem(
                (*loc, "to"),
                f"the reference reads {port!r}, which is not an input port of this product",
                f"declare it as an input port (input ports: {known})",
            )
        )
        return
    orphans = measuring.orphans(column, port, other)
    # ODCS gives relationships no severity; a customProperty named severity can.
    given = next(
        (
            item.get("value")
            for item in relation.get("customProperties") or []
            if isinstance(item, dict) and item.get("property") == "severity"
        ),
        None,
    )
    severity = _severity(given, (*loc, "customProperties"), parsed)
    if severity is None:
        return
    parsed.rules.append(
        QualityRule(
            name=f"{column} references {target}",
            threshold=Threshold("mustBe", 0),
            table_sql=f"(SELECT count(*) {orphans})",
            column=column,
            reference=port,
            referenced=other,
            severity=severity,
            sample_sql=orphans,
        )
    )


def _listed_rule(
    spec: Any,
    column: str | None,
    loc: tuple[str | int, ...],
    types: dict[str, str],
    hidden: set[str],
    parsed: ParsedRules,
    tables: frozenset[str] = frozenset(),
) -> None:
    """A rule of a ``quality`` list: prose, a SQL query, or a library metric."""
    if not isinstance(spec, dict):
        parsed.problems.append(
            RuleProblem(
                loc, "a quality rule must be a mapping", "write - {metric: nullValues, mustBe: 0}"
            )
        )
        return
    kind = spec.get("type", "library")
    if kind == "text":
        return  # prose for people; nothing to run
    if kind == "sql":
        _sql_rule(spec, column, loc, hidden, parsed, tables)
        return
    if kind != "library":
        parsed.problems.append(
            RuleProblem(
                (*loc, "type"),
                f"quality rules of type {kind!r} are not run yet",
                "use a library metric: " + ", ".join(metrics.names()),
            )
        )
        return
    _library_rule(spec, column, loc, types, hidden, parsed)


def _library_rule(
    spec: dict[str, Any],
    column: str | None,
    loc: tuple[str | int, ...],
    types: dict[str, str],
    hidden: set[str],
    parsed: ParsedRules,
) -> None:
    """A library metric's rule: what every metric shares is checked here, the rest by it."""
    names = set(types)
    metric = spec.get("metric", spec.get("rule"))
    if not isinstance(metric, str) or (measure := metrics.find(metric)) is None:
        parsed.problems.append(
            RuleProblem(
                (*loc, "metric"),
                f"unknown quality metric {metric!r}",
                "use one of " + ", ".join(metrics.names()),
            )
        )
        return
    threshold = _threshold(spec, loc, parsed)
    if threshold is None:
        return
    arguments = spec.get("arguments") or {}
    if not isinstance(arguments, dict):
        parsed.problems.append(
            RuleProblem(
                (*loc, "arguments"),
                "arguments must be a mapping",
                "write arguments: {validValues: [a, b]}",
            )
        )
        return
    target = spec.get("column", column)
    if metrics.needs_column(measure) and target is None:
        parsed.problems.append(
            RuleProblem(
                loc,
                f"{metric} needs a column",
                "declare the rule under a column's quality, or add column: NAME",
            )
        )
        return
    if target is not None and target not in names:
        parsed.problems.append(
            RuleProblem(
                loc,
                f"the rule is on column {target!r}, which the contract does not declare",
                f"use one of {', '.join(sorted(names))}",
            )
        )
        return
    severity = _severity(spec.get("severity"), (*loc, "severity"), parsed)
    if severity is None:
        return
    unit = spec.get("unit", "rows")
    if unit not in ("rows", "percent"):
        parsed.problems.append(
            RuleProblem((*loc, "unit"), f"unknown unit {unit!r}", "use rows or percent")
        )
        return
    percent = unit == "percent"
    together = arguments.get("properties")
    subject = target or (", ".join(map(str, together)) if isinstance(together, list) else "")
    label = f"{subject + ' ' if subject else ''}{metric} {threshold}{' %' if percent else ''}"
    made = measure(
        metrics.LibraryRule(
            metric=metric,
            name=spec.get("name") or label,
            threshold=threshold,
            column=target,
            percent=percent,
            severity=severity,
            arguments=arguments,
            loc=loc,
            types=types,
            private=frozenset(hidden),
        )
    )
    if isinstance(made, QualityRule):
        parsed.rules.append(made)
    else:
        parsed.problems.append(made)


def _sql_rule(
    spec: dict[str, Any],
    column: str | None,
    loc: tuple[str | int, ...],
    hidden: set[str],
    parsed: ParsedRules,
    tables: frozenset[str] = frozenset(),
) -> None:
    """A custom SQL rule: one value from a query that reads only this port's own rows
    (and ``tables``).

    The query names the port's rows as ``${table}`` (or ``${object}``); it runs read-only,
    as a subquery of the same statement as the other rules.
    """
    from quanta.build.sql_guard import check_sql, reads_any, selected_width

    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        parsed.problems.append(
            RuleProblem(
                (*loc, "query"),
                "a sql rule needs a query",
                "write query: SELECT count(*) FROM ${table} WHERE ...",
            )
        )
        return
    threshold = _threshold(spec, loc, parsed)
    if threshold is None:
        return
    # The guard checks the very text that runs.
    checked = measuring.sql_rule_text(query)
    declared = [(measuring.THIS_NAME,), *((name,) for name in sorted(tables))]
    for problem in check_sql(checked, declared, purpose="a quality rule"):
        message = problem.message.replace(f"'{measuring.THIS_NAME}'", "${table}")
        hint = (
            "read only this port's rows, as ${table}" if "not declared" in message else problem.hint
        )
        parsed.problems.append(RuleProblem((*loc, "query"), message, hint))
        return
    severity = _severity(spec.get("severity"), (*loc, "severity"), parsed)
    if severity is None:
        return
    width = selected_width(checked)
    if width != 1:
        returns = "every column" if width is None else f"{width} columns"
        parsed.problems.append(
            RuleProblem(
                (*loc, "query"),
                f"the query returns {returns}; a rule compares one value",
                "select one value, e.g. SELECT count(*) FROM ${table} ...",
            )
        )
        return
    parsed.rules.append(
        QualityRule(
            name=spec.get("name") or f"sql {threshold}: {' '.join(query.split())[:60]}",
            threshold=threshold,
            table_sql=measuring.sql_rule_measure(checked),
            column=column,
            severity=severity,
            # Decided from what the query can reach, not from how it spells columns.
            hide_observed=reads_any(checked, hidden),
        )
    )


def _threshold(
    spec: dict[str, Any], loc: tuple[str | int, ...], parsed: ParsedRules
) -> Threshold | None:
    given = [operator for operator in OPERATORS if operator in spec]
    if len(given) != 1:
        parsed.problems.append(
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
        parsed.problems.append(
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
        parsed.problems.append(
            RuleProblem(
                (*loc, operator),
                f"{operator} must be a number, not {value!r}",
                f"write {operator}: 0",
            )
        )
        return None
    return Threshold(operator, value)
