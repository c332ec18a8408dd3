"""What a Quanta peer of shared/bench/peers writes for the harness (its ``common.emit``):
standard library only, so that importing it costs the timed process nothing."""

from __future__ import annotations

import json
from pathlib import Path

ALL = [f"C{number:02d}" for number in range(1, 16)]


def emit(
    out: Path, peer: str, seconds: float, checks: dict[str, dict[str, object]], **extra: object
) -> None:
    """``{peer, version, check_seconds, checks: {C01..C15: {ok, value}}, missing}``."""
    import quanta

    document = {
        "peer": peer,
        "version": quanta.__version__,
        "check_seconds": round(seconds, 3),
        "checks": checks,
        "missing": sorted(set(ALL) - set(checks)),
        **extra,
    }
    out.write_text(json.dumps(document, indent=1, default=str))
