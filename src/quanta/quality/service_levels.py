"""Service levels a contract promises (``slaProperties``), read as rules that warn.

A service level is measured, not enforced at publish: a stale or incomplete table is
recorded as a warning and tracked by day, and never blocks a publish the way an error
rule does. Quanta measures ``freshness`` and ``completeness``.
"""

from __future__ import annotations

from typing import Any

from quanta.model.durations import SECONDS, iso_seconds
from quanta.model.result import Severity
from quanta.quality.rules import ParsedRules, QualityRule, RuleProblem, Threshold
from quanta.quality.statistics import Statistic
from quanta.sql_text import quote


def parse_freshness(
    level: Any,
    loc: tuple[str | int, ...],
    table: str,
    types: dict[str, str],
    hidden: set[str],
    parsed: ParsedRules,
) -> None:
    """The newest value of ``element`` is at most ``value unit`` old."""
    column = (level.element or "").split(".")[-1]
    if types.get(column) not in ("timestamp", "date"):
        parsed.problems.append(
            RuleProblem(
                (*loc, "element"),
                f"freshness needs a date or time column to measure, not {level.element!r}",
                f"write element: {table}.<column>",
            )
        )
        return
    unit = str(level.unit or "d").lower()
    value = level.value
    iso = iso_seconds(value) if isinstance(value, str) and not level.unit else None
    if iso is not None:  # P3D, PT72H: as other tools write it
        value, unit = value.strip().upper(), "s"
        limit: float = iso
    elif unit not in SECONDS or isinstance(value, bool) or not isinstance(value, int | float):
        parsed.problems.append(
            RuleProblem(
                (*loc, "unit" if unit not in SECONDS else "value"),
                f"freshness of {value!r} {unit!r} is not a duration",
                "write a number and a unit: s, min, h, d or w (e.g. value: 1, unit: d), or an "
                "ISO 8601 duration (e.g. value: P1D, PT36H)",
            )
        )
        return
    else:
        limit = value * SECONDS[unit]
    newest = f"CAST(max({quote(column)}) AS TIMESTAMPTZ)"
    if types[column] == "date":
        newest = f"({newest} + INTERVAL 1 DAY)"  # a day's data is complete at its end
    parsed.rules.append(
        QualityRule(
            name=f"freshness {column} within {value}" + ("" if iso is not None else f" {unit}"),
            threshold=Threshold("mustBeLessOrEqualTo", limit),
            table_sql=f"date_diff('second', {newest}, now())",
            column=column,
            severity=Severity.WARNING,
            duration=True,
            statistic=Statistic("age", column, types[column]),
            # The age of the newest value is a value of the column: a birth date's, say.
            hide_observed=column in hidden,
        )
    )


def parse_completeness(
    level: Any,
    loc: tuple[str | int, ...],
    table: str,
    types: dict[str, str],
    parsed: ParsedRules,
) -> None:
    """At least ``value`` percent of the rows have every value of ``element`` (a column,
    or the whole table: all declared columns)."""
    element = level.element or table
    # table.column, a bare column name (as freshness takes it), or the table itself
    column = element.split(".")[-1] if element != table else None
    if column is not None and column not in types:
        parsed.problems.append(
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
        parsed.problems.append(
            RuleProblem(
                (*loc, "value" if unit in ("percent", "%") else "unit"),
                f"completeness of {value!r} {unit!r} is not a percentage",
                "write a number from 0 to 100 and unit: percent (e.g. value: 99.5)",
            )
        )
        return
    columns = [column] if column else list(types)
    present = " AND ".join(f"{quote(name)} IS NOT NULL" for name in columns)
    parsed.rules.append(
        QualityRule(
            name=f"completeness {column or table} at least {value} %",
            threshold=Threshold("mustBeGreaterOrEqualTo", value),
            table_sql=f"round(100.0 * count(*) FILTER (WHERE {present}) / nullif(count(*), 0), 4)",
            column=column,
            percent=True,
            severity=Severity.WARNING,
            statistic=Statistic("complete", columns=tuple(columns)),
        )
    )
