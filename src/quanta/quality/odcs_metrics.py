"""The library metrics ODCS defines, registered in ``quanta.metrics`` as a plugin's would be.

A plugin's metric is written the same way (see `quanta.quality.metrics`): these are
the examples to copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quanta.quality.column_options import bound_problem, pattern_problem
from quanta.quality.measuring import invalid_rows, repeats
from quanta.quality.metrics import LibraryRule, whole_table
from quanta.quality.rules import QualityRule, RuleProblem
from quanta.quality.statistics import Statistic
from quanta.sql_text import literal


@whole_table
def row_count(rule: LibraryRule) -> QualityRule | RuleProblem:
    return rule.measured(table_sql="count(*)", statistic=Statistic("rows"))


def null_values(rule: LibraryRule) -> QualityRule | RuleProblem:
    return rule.measured(
        count_sql=f"{rule.quoted} IS NULL", statistic=Statistic("nulls", rule.column or "")
    )


def missing_values(rule: LibraryRule) -> QualityRule | RuleProblem:
    """Rows without a value: NULL, or one of ``missingValues``."""
    # Empty text counts as missing in text columns; other types can only be NULL.
    text = rule.types.get(rule.column or "") == "string"
    missing = rule.arguments.get("missingValues", [None, ""] if text else [None])
    if not isinstance(missing, list):
        return rule.problem(
            "missingValues must be a list",
            "write missingValues: ['', 'N/A']",
            "arguments",
            "missingValues",
        )
    listed = [value for value in missing if value is not None]
    parts = [f"{rule.quoted} IS NULL"] + (
        [f"{rule.quoted} IN ({', '.join(literal(v) for v in listed)})"] if listed else []
    )
    statistic = None if listed else Statistic("nulls", rule.column or "")
    return rule.measured(count_sql=" OR ".join(parts), statistic=statistic)


def invalid_values(rule: LibraryRule) -> QualityRule | RuleProblem:
    """Rows whose value is not valid: outside validValues, not matching the pattern, or out
    of the range (Quanta's extension of the open arguments); all that are given apply."""
    logical = rule.types.get(rule.column or "", "string")
    arguments = rule.arguments
    valid = arguments.get("validValues")
    pattern = arguments.get("pattern")
    bounds = {key: arguments[key] for key in ("minimum", "maximum") if key in arguments}
    if valid is None and pattern is None and not bounds:
        return rule.problem(
            "invalidValues needs validValues, a pattern, or a minimum and maximum",
            "add arguments: {validValues: [a, b]}, {pattern: '^[A-Z]{2}$'} or "
            "{minimum: 0, maximum: 100}",
            "arguments",
        )
    if valid is not None:
        if not isinstance(valid, list) or not valid:
            return rule.problem(
                "validValues must be a list",
                "write validValues: [a, b, c]",
                "arguments",
                "validValues",
            )
        if logical != "boolean" and any(isinstance(value, bool) for value in valid):
            return rule.problem(
                f"validValues holds true or false, and the column is {logical}",
                "quote the values: YAML reads NO, YES, ON and OFF as true or false",
                "arguments",
                "validValues",
            )
        if logical == "string" and any(isinstance(v, int | float) for v in valid):
            return rule.problem(
                "validValues holds numbers, and the column is text",
                "quote the values, e.g. ['01', '02']",
                "arguments",
                "validValues",
            )
    if pattern is not None:
        problem = pattern_problem(pattern)
        if problem:
            return rule.problem(problem, "fix the regular expression", "arguments", "pattern")
    for key, value in bounds.items():
        bound = bound_problem(key, value, logical)
        if bound:
            return rule.problem(*bound, "arguments", key)
    return rule.measured(
        count_sql=invalid_rows(rule.quoted, logical, valid, pattern, bounds),
        statistic=_range_statistic(rule.column or "", logical, arguments),
    )


def _range_statistic(column: str, logical: str, arguments: Mapping[str, Any]) -> Statistic | None:
    """invalidValues given as a range only: the column's bounds may settle it."""
    if "validValues" in arguments or "pattern" in arguments:
        return None
    symbols = {"minimum": ">=", "maximum": "<="}
    comparisons = tuple((symbols[key], arguments[key]) for key in symbols if key in arguments)
    return Statistic("outside", column, logical, comparisons) if comparisons else None


@whole_table
def duplicate_values(rule: LibraryRule) -> QualityRule | RuleProblem:
    """Rows repeating another's value of the rule's column, or, on the table, of the
    columns ``arguments: {properties: [a, b]}`` names together."""
    columns = [rule.column] if rule.column else rule.arguments.get("properties")
    if (
        not isinstance(columns, list)
        or not columns
        or not all(isinstance(name, str) and name in rule.types for name in columns)
    ):
        return RuleProblem(
            rule.loc,
            "duplicateValues needs a column, or the columns it compares together",
            "declare the rule under a column's quality, or add arguments: {properties: "
            "[column, column]} naming declared columns",
        )
    return repeats(
        rule.name,
        columns,
        threshold=rule.threshold,
        column=rule.column,
        percent=rule.percent,
        severity=rule.severity,
    )
