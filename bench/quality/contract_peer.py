"""Quanta as a peer of shared/bench/peers: the 15 checks as ``quanta contract test``.

    PYTHON contract_peer.py DATA_DIR OUT_JSON

Run by the harness (``run_bench.py --extra-peer quanta-contract-test=...``), whole process
timed: it fills in contract.odcs.yaml (next to this file) for the data set, runs the
``quanta`` command's entry point (`quanta.cli.main`) in this process with ``--json``, and
maps each check of ``orders`` by its kind and columns onto C01..C15, as a user's tooling
would. Nothing is prepared beforehand:
no mesh home, no published product. Writes the harness's JSON (``common.emit``).
"""

from __future__ import annotations

import contextlib
import io
import json
import string
import sys
import tempfile
import time
from pathlib import Path

from harness import emit

HERE = Path(__file__).resolve().parent
# (kind, column) of a check -> benchmark id; a kind of check on any column is None
BY_KIND = {
    ("rowCount", None): "C02",
    ("required", "order_id"): "C03",
    ("unique", "order_id"): "C04",
    ("required", "customer_id"): "C05",
    ("foreignKey", "customer_id"): "C06",
    ("nullValues", "email"): "C07",
    ("pattern", "email"): "C08",
    ("invalidValues", "country"): "C09",
    ("required", "status"): "C10",
    ("invalidValues", "status"): "C11",
    ("required", "amount"): "C12",
    ("minimum", "amount"): "C13",
    ("maximum", "amount"): "C13",
    ("minimum", "quantity"): "C14",
    ("maximum", "quantity"): "C14",
    ("freshness", "created_at"): "C15",
}


def main(data: Path, out: Path) -> None:
    started = time.perf_counter()
    manifest = json.loads((data / "manifest.json").read_text())
    rows = int(manifest["rows"])
    contract = string.Template((HERE / "contract.odcs.yaml").read_text()).safe_substitute(
        DATA=str(data.resolve()), MIN_ROWS=int(rows * 0.9), MAX_ROWS=int(rows * 1.1)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contract.odcs.yaml"
        path.write_text(contract)
        from quanta.cli import main as quanta

        written = io.StringIO()
        sys.argv = ["quanta", "contract", "test", str(path), "--json"]
        with contextlib.redirect_stdout(written), contextlib.suppress(SystemExit):
            quanta()
    seconds = time.perf_counter() - started
    result = json.loads(written.getvalue())
    checks: dict[str, dict[str, object]] = {}
    unmapped = []
    for check in result["checks"]:
        if check["port"] != "orders":
            continue
        column = check["columns"][0] if check["columns"] else None
        key = "C01" if check["kind"] in ("type", "exists") else BY_KIND.get((check["kind"], column))
        if key is None:
            unmapped.append(check["name"])
            continue
        found = checks.setdefault(key, {"ok": True, "value": []})
        found["ok"] = bool(found["ok"]) and check["outcome"] == "passed"
        value = found["value"]
        assert isinstance(value, list)
        value.append(f"{check['name']}: {check['outcome']} ({check['observed']})")
    emit(out, "quanta-contract-test", seconds, checks, verdict=result["verdict"], unmapped=unmapped)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: contract_peer.py DATA_DIR OUT_JSON")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
