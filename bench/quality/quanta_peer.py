"""Quanta as a peer of shared/bench/peers: the 15 checks, as ``quanta check bench.orders``.

    PYTHON quanta_peer.py DATA_DIR OUT_JSON

Run by the harness (``run_bench.py --extra-peer quanta=...``), whole process timed. The
data set must have been published first by ``prepare.py DATA_DIR``. Writes the harness's
JSON: ``{peer, version, check_seconds, checks: {C01..C15: {ok, value}}, missing}``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness import ALL, emit

from quanta.mesh import Mesh
from quanta.model.result import Outcome

BY_NAME = {
    "customer_id references customers.customer_id": "C06",
    "freshness created_at within 7 d": "C15",
}


def main(data: Path, out: Path) -> None:
    started = time.perf_counter()
    with Mesh.open(data / "quanta" / "home", create=False) as mesh:
        [run] = mesh.check("bench.orders")
    seconds = time.perf_counter() - started
    checks: dict[str, dict[str, object]] = {}
    schema = [c for c in run.checks if c.name.startswith("column ") and " not null" not in c.name]
    checks["C01"] = {
        "ok": all(c.outcome == Outcome.PASSED for c in schema),
        "value": {c.name: c.observed for c in schema},
    }
    for check in run.checks:
        key = BY_NAME.get(check.name, check.name)
        if key in ALL and key != "C01":
            checks[key] = {"ok": check.outcome == Outcome.PASSED, "value": check.observed}
    emit(out, "quanta", seconds, checks)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: quanta_peer.py DATA_DIR OUT_JSON")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
