"""Measures a snapshot's statistics answer without reading its rows.

Iceberg manifests keep, per data file, the row count and per column the null and NaN
counts and the lower and upper bounds; storage sums them into `TableStats`. A rule
whose measure they settle (a row count, a null count, a range the bounds already fall
inside, the newest value of a time column) costs no scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import floor
from typing import Any, Literal

from quanta.model.catalog import ColumnStats, TableStats

UNKNOWN: Any = object()
"""What `answer` returns when the statistics cannot settle the measure."""


@dataclass(frozen=True)
class Statistic:
    """What a rule measures, in terms statistics may answer.

    - ``rows``: the row count;
    - ``nulls``: rows where ``column`` is NULL;
    - ``outside``: rows whose ``column`` breaks one of ``comparisons`` (``(">=", 0)``);
      statistics only ever answer 0, when the bounds show that no value can;
    - ``age``: seconds from the newest value of ``column`` to now (a date's data counts
      until the day's end);
    - ``complete``: the percentage of rows with a value in every one of ``columns``.
    """

    kind: Literal["rows", "nulls", "outside", "age", "complete"]
    column: str = ""
    logical: str = ""
    comparisons: tuple[tuple[str, Any], ...] = ()
    columns: tuple[str, ...] = ()


def answer(statistic: Statistic, stats: TableStats, now: datetime | None = None) -> Any:
    """The measure, or `UNKNOWN`."""
    if statistic.kind == "rows":
        return stats.rows
    if statistic.kind == "complete":
        return _complete(stats, statistic.columns)
    column = stats.columns.get(statistic.column)
    if column is None or column.nulls is None:
        return UNKNOWN
    empty = column.nulls == stats.rows  # no values at all
    if statistic.kind == "nulls":
        return column.nulls
    if statistic.kind == "outside":
        if empty:
            return 0
        return 0 if _inside(column, statistic.logical, statistic.comparisons) else UNKNOWN
    if empty:
        return None  # as max() of no values: nothing to measure
    newest = _point(column.upper, statistic.logical)
    if not isinstance(newest, datetime):
        return UNKNOWN
    if statistic.logical == "date":
        newest += timedelta(days=1)
    moment = now or datetime.now(UTC)
    return floor(moment.timestamp()) - floor(newest.replace(tzinfo=UTC).timestamp())


def _complete(stats: TableStats, columns: tuple[str, ...]) -> Any:
    """Percent of rows without NULL in ``columns``: exact for one column, or when none of
    them has a NULL; rows missing values in several columns may overlap."""
    if not stats.rows:
        return None  # as the scan: nothing to measure
    nulls = [stats.columns[name].nulls if name in stats.columns else None for name in columns]
    if any(count is None for count in nulls):
        return UNKNOWN
    known = [count for count in nulls if count is not None]
    if len(known) == 1 or not any(known):
        return percent(stats.rows - sum(known), stats.rows)
    return UNKNOWN


def percent(part: int, whole: int) -> float | None:
    """``100 * part / whole`` to 4 decimals, a half rounded away from zero as the engine's
    ``round`` does (Python's rounds it to even); None for no rows."""
    if not whole:
        return None
    exact = Decimal(100) * part / Decimal(whole)
    return float(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _inside(column: ColumnStats, logical: str, comparisons: tuple[tuple[str, Any], ...]) -> bool:
    """Whether every value lies within the comparisons, judging by the bounds alone."""
    if column.nans != 0:
        return False  # NaN sorts above every number; the bounds leave it out
    lower, upper = _point(column.lower, logical), _point(column.upper, logical)
    if lower is None or upper is None:
        return False
    for symbol, given in comparisons:
        value = _point(given, logical, threshold=True)
        if value is None:
            return False
        try:
            held = {
                ">=": lower >= value,
                ">": lower > value,
                "<=": upper <= value,
                "<": upper < value,
            }[symbol]
        except (TypeError, KeyError):
            return False
        if not held:
            return False
    return True


def _point(value: Any, logical: str, *, threshold: bool = False) -> Any:
    """A bound or threshold as a comparable Python value (times as naive UTC), or None
    where Python and the engine might compare it differently: the scan then decides."""
    if value is None or isinstance(value, bool):
        return None
    if logical in ("integer", "number"):
        if not isinstance(value, int | float):
            return None
        if logical == "integer" and isinstance(value, float) and threshold:
            return None  # the engine compares a whole number with a float as two floats
        return value if abs(value) < 2**53 else None
    if logical in ("date", "timestamp"):
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date) or (isinstance(value, str) and ISO_DATE_TIME.fullmatch(value)):
            moment = datetime.fromisoformat(str(value))
        else:
            return None
        if moment.tzinfo is not None:
            if threshold:
                return None  # an offset on a threshold: leave it to the engine
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    return None


ISO_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?"
)
"""Dates and times written as ISO 8601, which Python and the engine read alike."""
