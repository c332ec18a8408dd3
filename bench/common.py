"""What the benchmark scripts share: telling progress, medians and ratios of timings."""

from __future__ import annotations

import os
import statistics
import sys


def say(message: str) -> None:
    """Progress, on stderr: stdout holds the results."""
    print(message, file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def ratio(value: float, baseline: float) -> float | None:
    """``value`` over ``baseline``; None without a baseline."""
    return value / baseline if baseline > 0 else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def load_average() -> list[float]:
    """The machine's load over 1, 5 and 15 minutes: how noisy the run was."""
    return [round(x, 1) for x in os.getloadavg()]
