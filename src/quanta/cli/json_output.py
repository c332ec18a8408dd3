"""JSON on stdout for programs: apart from the consoles (`quanta.cli.output`), so that a
command asked for ``--json`` loads no console library."""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from quanta.quality.external import ContractTest


def print_json(value: Any) -> None:
    def plain(item: Any) -> Any:
        if isinstance(item, BaseModel):
            return item.model_dump(mode="json")
        return str(item)

    sys.stdout.write(json.dumps(_finite(value), default=plain, indent=2) + "\n")


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: write them as the strings "inf", "-inf" and "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def contract_test(result: ContractTest) -> None:
    """``quanta contract test --json``: each check, and the verdict."""
    verdict = {"passed": "pass", "warned": "warn"}.get(result.outcome.value, "fail")
    print_json(
        {
            "contract": result.contract,
            "server": result.server,
            "verdict": verdict,
            "outcome": result.outcome,
            "checks": [check.model_dump(mode="json") for check in result.checks],
            "unmapped": result.unmapped,
        }
    )
