"""A reference to a whole-number key that holds every number of its range is checked as
a range, in the one scan: the same rows fail it as the lookup would, whatever the data."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quanta.quality import scanning
from quanta.quality.external import run_contract_test

CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: shop
version: 1.0.0
status: active
servers:
  - {server: files, type: local, path: "{model}.parquet", format: parquet}
schema:
  - name: customers
    properties:
      - {name: id, logicalType: integer}
  - name: orders
    properties:
      - {name: order, logicalType: integer, primaryKey: true}
      - name: customer
        logicalType: integer
        relationships: [{type: foreignKey, to: customers.id}]
      - name: score
        logicalType: number
        relationships: [{type: foreignKey, to: customers.id}]
"""

KEYS = {
    "dense": [3, 1, 2, 4, 5, None, 2],  # every number from 1 to 5, one twice, and a NULL
    "gap": [1, 2, 4, 5],
    "negative": [-2, -1, 0, 1],
    "empty": [None, None],
}


def write(folder: Path, keys: list[int | None]) -> Path:
    pq.write_table(pa.table({"id": pa.array(keys, pa.int64())}), folder / "customers.parquet")
    pq.write_table(
        pa.table(
            {
                "order": [1, 2, 3, 4, 5, 6, 7],
                "customer": pa.array([1, 5, 0, 6, None, 3, -1], pa.int32()),
                "score": [1.0, 1.5, 2.0, None, 5.0, 6.0, -2.0],
            }
        ),
        folder / "orders.parquet",
    )
    path = folder / "contract.odcs.yaml"
    path.write_text(CONTRACT)
    return path


def outcomes(path: Path) -> list[tuple[str, str, object, object]]:
    return [
        (c.name, c.outcome.value, c.observed, sorted(str(dict(s)) for s in c.samples))
        for c in run_contract_test(path).checks
        if "references" in c.name
    ]


@pytest.mark.parametrize("keys", list(KEYS), ids=list(KEYS))
def test_a_range_finds_what_the_lookup_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scans: list[str], keys: str
) -> None:
    path = write(tmp_path, KEYS[keys])
    ranged = outcomes(path)
    sql = " ".join(scans)
    monkeypatch.setattr(scanning, "_dense", lambda _session, _relation, _column: None)
    looked_up = outcomes(path)

    assert ranged == looked_up
    # Only a whole-number column referencing a key with no gap is checked as a range.
    ranges = keys in ("dense", "negative")
    assert ('NOT ("customer" BETWEEN' in sql) == ranges
    assert ('ON o."customer"' in sql) == (not ranges)
    assert 'ON o."score"' in sql  # a float is looked up: 1.5 is no key of 1 to 5
    expected = {
        "dense": {"customer": 3, "score": 3},  # 0, 6, -1; 1.5, 6.0, -2.0
        "gap": {"customer": 4, "score": 3},  # 0, 6, 3, -1; 1.5, 6.0, -2.0
        "negative": {"customer": 3, "score": 4},  # 5, 6, 3; 1.5, 2.0, 5.0, 6.0
        "empty": {"customer": 6, "score": 6},  # every value
    }[keys]
    assert {name.split()[0]: observed for name, _, observed, _ in ranged} == expected
