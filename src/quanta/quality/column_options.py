"""Rules a column declares by its options: ``unique`` and ``logicalTypeOptions``.

ODCS lets a column state its own limits (``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``pattern``, ``minLength``, ``maxLength``) without a quality list;
each is one rule here. What makes a bound or a pattern runnable is decided here too, for
the ``invalidValues`` metric takes the same arguments.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from quanta.quality.measuring import repeats
from quanta.quality.rules import ParsedRules, QualityRule, RuleProblem, Threshold, shortened
from quanta.quality.statistics import ISO_DATE_TIME, Statistic
from quanta.sql_text import literal, quote

BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def parse_column_options(
    name: str,
    logical: str,
    extra: dict[str, Any],
    unique: bool,
    loc: tuple[str | int, ...],
    parsed: ParsedRules,
) -> None:
    column = quote(name)
    if unique:
        unique_rule = repeats(f"{name} unique", [name], column=name)
        parsed.rules.append(replace(unique_rule, kind="unique", loc=(*loc, "unique")))
    options = extra.get("logicalTypeOptions") or {}
    if not isinstance(options, dict):
        parsed.problems.append(
            RuleProblem(
                (*loc, "logicalTypeOptions"),
                "logicalTypeOptions must be a mapping",
                "write it as {minimum: 0, maximum: 100}",
            )
        )
        return
    for key, symbol in BOUNDS.items():
        if key not in options:
            continue
        value = options[key]
        bound = bound_problem(key, value, logical)
        if bound:
            parsed.problems.append(RuleProblem((*loc, "logicalTypeOptions", key), *bound))
            continue
        parsed.rules.append(
            QualityRule(
                name=f"{name} {symbol} {value}",
                threshold=Threshold("mustBe", 0),
                count_sql=f"NOT ({column} {symbol} {literal(value)})",
                column=name,
                statistic=Statistic("outside", name, logical, ((symbol, value),)),
                kind=key,
                loc=(*loc, "logicalTypeOptions", key),
            )
        )
    if "pattern" in options:
        pattern = options["pattern"]
        problem = pattern_problem(pattern)
        if problem:
            parsed.problems.append(
                RuleProblem(
                    (*loc, "logicalTypeOptions", "pattern"), problem, "fix the regular expression"
                )
            )
        else:
            parsed.rules.append(
                QualityRule(
                    name=f"{name} matches {pattern}",
                    threshold=Threshold("mustBe", 0),
                    count_sql=f"NOT regexp_full_match({column}, {literal(pattern)})",
                    column=name,
                    kind="pattern",
                    loc=(*loc, "logicalTypeOptions", "pattern"),
                )
            )
    for key, symbol in (("minLength", ">="), ("maxLength", "<=")):
        if key not in options:
            continue
        value = options[key]
        if logical != "string":
            parsed.problems.append(
                RuleProblem(
                    (*loc, "logicalTypeOptions", key),
                    f"{key} applies to text, and this column is {logical}",
                    "remove it, or use minimum and maximum",
                )
            )
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            parsed.problems.append(
                RuleProblem(
                    (*loc, "logicalTypeOptions", key),
                    f"{key} {value!r} is not a whole number",
                    f"write {key}: 3",
                )
            )
            continue
        parsed.rules.append(
            QualityRule(
                name=f"{name} length {symbol} {value}",
                threshold=Threshold("mustBe", 0),
                count_sql=f"NOT (length({column}) {symbol} {value})",
                column=name,
                kind=key,
                loc=(*loc, "logicalTypeOptions", key),
            )
        )


def bound_problem(key: str, value: Any, logical: str) -> tuple[str, str] | None:
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


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` is no regular expression to run, or None."""
    if not isinstance(pattern, str):
        return f"the pattern {pattern!r} is not text"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"the pattern {pattern!r} does not compile: {error}"
    except (RecursionError, OverflowError, ValueError):
        # 500 nested groups, or a{99999999999}: beyond what a pattern may ask.
        return f"the pattern {shortened(pattern)!r} is too deep or asks for too many repeats"
    return None
