"""Durations as contracts write them: a number and a unit, or ISO 8601 (``P3D``, ``PT72H``)."""

from __future__ import annotations

import re

SECONDS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("min", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86_400),
    **dict.fromkeys(("w", "week", "weeks"), 604_800),
}
"""Units of a duration, in seconds."""

ISO_DURATION = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)


def iso_seconds(text: str) -> float | None:
    """The seconds of an ISO 8601 duration of weeks, days, hours, minutes and seconds
    (``P3D``, ``PT72H``, ``P1DT12H``); None for anything else (years and months have no
    one length)."""
    found = ISO_DURATION.fullmatch(text.strip())
    if found is None or not any(found.groups()):
        return None
    weeks, days, hours, minutes, seconds = (float(part or 0) for part in found.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
