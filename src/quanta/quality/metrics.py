"""The metrics a contract's library rules may name: the ODCS ones, and any a plugin adds.

A metric is a plain function from the rule as the contract declares it (`LibraryRule`,
already checked for what every metric shares: its column, comparison, unit and severity)
to the `QualityRule` that measures it, or the `RuleProblem` that keeps it from running.

Quanta's own metrics (`quanta.quality.odcs_metrics`) are registered exactly as a
plugin's are, in the entry point group ``quanta.metrics``, and each is imported only when
a contract first names it, as adapters are (`quanta.registry`). A program may also
register one by adding it to `METRICS`; what it adds there wins over what is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from quanta import registry
from quanta.model.result import Severity
from quanta.quality.rules import QualityRule, RuleProblem, Threshold
from quanta.sql_text import quote

GROUP = "quanta.metrics"


@dataclass(frozen=True)
class LibraryRule:
    """A ``type: library`` rule of the contract, as a metric receives it."""

    metric: str
    name: str
    """The rule's name: its own, or made from its column, metric and threshold."""
    threshold: Threshold
    column: str | None
    """The column it is on; None only for a metric marked `whole_table`."""
    percent: bool
    """The measure counts rows as a percentage of all rows (``unit: percent``)."""
    severity: Severity
    arguments: Mapping[str, Any]
    loc: tuple[str | int, ...]
    """Where the rule is in the contract, for the problems a metric reports."""
    types: Mapping[str, str]
    """The logical type of every column the contract declares."""
    private: frozenset[str] = frozenset()
    """Columns classified as PII: a measure that shows their values sets ``hide_observed``."""

    @property
    def quoted(self) -> str:
        """The column as an identifier in SQL ("" for a rule on the whole table)."""
        return quote(self.column) if self.column else ""

    def measured(self, **measure: Any) -> QualityRule:
        """The rule, measured as ``measure`` says (`QualityRule`'s SQL and statistic)."""
        return QualityRule(
            name=self.name,
            threshold=self.threshold,
            column=self.column,
            percent=self.percent,
            severity=self.severity,
            **measure,
        )

    def problem(self, message: str, hint: str, *where: str | int) -> RuleProblem:
        """Why the rule cannot run, at ``where`` inside it (``"arguments", "pattern"``)."""
        return RuleProblem((*self.loc, *where), message, hint)


Metric = Callable[[LibraryRule], QualityRule | RuleProblem]

METRICS: dict[str, Metric] = {}
"""The metrics loaded so far, by name; see `find`."""

# The parser asks before it calls the metric (a rule with no column is refused ahead of
# its severity and unit), so the mark sits beside the functions: any plain function is a
# metric, and one entry point names it.
_WHOLE_TABLE: set[Metric] = set()


def whole_table(metric: Metric) -> Metric:
    """Marks a metric that measures the table as a whole: its rules need no column."""
    _WHOLE_TABLE.add(metric)
    return metric


def needs_column(metric: Metric) -> bool:
    return metric not in _WHOLE_TABLE


def find(name: str) -> Metric | None:
    """The metric called ``name``, loaded on first use; None when there is none."""
    if name not in METRICS:
        # Quanta's own names need no scan of the installed packages' entry points.
        if name not in registry.BUILT_IN[GROUP] and name not in _installed():
            return None
        METRICS[name] = registry.load(GROUP, name)
    return METRICS[name]


def names() -> list[str]:
    """Every metric's name, Quanta's first, for messages that list them."""
    return list(dict.fromkeys([*_installed(), *METRICS]))


@cache
def _installed() -> dict[str, str]:
    return registry.available(GROUP)
