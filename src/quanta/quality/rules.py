"""What a contract's quality rule is once read: a measure over the port's rows, a threshold.

Parsing (`quanta.quality.parsing`) makes these objects from the contract, measuring
(`quanta.quality.measuring`) turns them into the aggregates of one scan, and judging
(`quanta.quality.judging`) turns the measured values into checks; the objects here are
all the three share, so that none of them needs another's internals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quanta.model.result import Severity
from quanta.quality.statistics import Statistic

SEVERITIES = tuple(severity.value for severity in Severity)
"""``error`` blocks a publish; ``warning`` and ``info`` are recorded."""

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
"""Names of the columns Quanta adds to the port's rows while it checks them."""


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
    severity: Severity = Severity.ERROR
    reference: str | None = None
    """The input port a reference rule reads besides the port's own rows."""
    referenced: str | None = None
    """The column of ``reference`` whose values a reference rule looks ``column`` up in."""
    sample_sql: str | None = None
    """For a table-level rule whose failing rows can be listed: their FROM ... WHERE."""
    hide_observed: bool = False
    """The observed value may show data of columns classified as PII: never report it."""
    duration: bool = False
    """The measure is an age in seconds, shown in the largest unit that fits."""
    statistic: Statistic | None = None
    """The same measure in terms a snapshot's statistics may answer without a scan."""
    kind: str = ""
    """What kind of rule it is, as the contract names it (``nullValues``, ``minimum``, ``sql``)."""
    loc: tuple[str | int, ...] = ()
    """Where the contract declares it."""
    columns: tuple[str, ...] = ()
    """The columns it concerns when that is more than ``column`` (duplicates over several)."""

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
class ParsedRules:
    """A contract's rules that can run, and the problems of those that cannot."""

    rules: list[QualityRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)


def shortened(text: str, most: int = 60) -> str:
    """Text short enough for a message: a rule may quote anything the contract holds."""
    return text if len(text) <= most else text[: most - 1] + "…"
