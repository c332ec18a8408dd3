"""Measured values judged into checks: the outcome, its reason, and what is kept of it.

Results are data the catalog keeps and people read, so a measured value is kept the way
JSON holds it and not much of it, and shown without any value of a column classified as
PII.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quanta.model.result import Check, Outcome
from quanta.quality.rules import QualityRule, shortened

KEPT_CHARACTERS = 1000
"""The most of an observed value a check result keeps (a SQL rule may return anything)."""


@dataclass(frozen=True)
class Unmeasured:
    """A measure the engine refused to compute (a SQL rule that fails as it runs): the
    rule's check is an error saying why, and the other rules are judged."""

    reason: str


def judge(
    rules: list[QualityRule], values: dict[str, Any], port: str, prefix: str = "q"
) -> list[Check]:
    checks = []
    for index, rule in enumerate(rules):
        observed = values[f"{prefix}{index}"]
        sample = values.get(f"{prefix}{index}:sample") or []
        if isinstance(sample, Unmeasured):
            sample = []
        if isinstance(observed, Unmeasured):
            checks.append(
                Check(
                    name=rule.name,
                    port=port,
                    outcome=Outcome.ERROR,
                    reason=f"the rule could not run: {observed.reason}",
                    severity=rule.severity,
                    kind=rule.kind,
                    columns=list(rule.columns or ([rule.column] if rule.column else [])),
                    location=".".join(str(part) for part in rule.loc),
                )
            )
            continue
        if rule.sample_sql is not None and isinstance(observed, dict):
            # Counted and sampled in one pass (see `measuring.measures`); a SQL rule's own
            # value may be a struct too, and stays what it is.
            observed, sample = observed["n"], observed["sample"] or []
        if observed is None and rule.count_sql is not None:
            observed = 0  # no rows: none of them breaks the rule
        if isinstance(observed, float) and observed.is_integer() and not rule.percent:
            observed = int(observed)
        unit = " %" if rule.percent else ""
        shown = shortened(repr(observed), KEPT_CHARACTERS)
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
                kind=rule.kind,
                columns=list(rule.columns or ([rule.column] if rule.column else [])),
                location=".".join(str(part) for part in rule.loc),
            )
        )
    return checks


def kept(value: Any) -> Any:
    """A measured value as results and the catalog keep it: what JSON holds, and not much.

    Bytes (a BLOB) are told by their length; a value whose JSON is longer than
    `KEPT_CHARACTERS` is kept as the start of its text.
    """
    value = _plain(value)
    text = json.dumps(value, default=str)
    return shortened(text, KEPT_CHARACTERS) if len(text) > KEPT_CHARACTERS else value


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value)):,} bytes>"
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
