"""``quanta contract test`` settles what the Parquet footers answer (row count, null
counts, bounds of whole numbers, dates and times) without a scan; every outcome and value
is the one a scan gives, whatever the footers hold."""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quanta.engines.duckdb_footers import FooterReader, footer_stats
from quanta.model.catalog import ColumnStats
from quanta.quality import external
from quanta.quality.external import run_contract_test

CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: shop
version: 1.0.0
status: active
servers:
  - {server: files, type: local, path: "orders/*.parquet", format: parquet}
schema:
  - name: orders
    properties:
      - {name: id, logicalType: integer, required: true, logicalTypeOptions: {minimum: 1}}
      - {name: customer, logicalType: integer, required: true}
      - {name: score, logicalType: number, logicalTypeOptions: {minimum: 0, maximum: 1}}
      - {name: day, logicalType: date, logicalTypeOptions: {minimum: "2026-01-01"}}
      - {name: placed, logicalType: timestamp, required: true}
      - name: email
        logicalType: string
        classification: pii
        quality: [{metric: nullValues, mustBeLessThan: 50, unit: percent}]
    quality:
      - {metric: rowCount, mustBeBetween: [1, 1000]}
slaProperties:
  - {property: freshness, value: 30, unit: d, element: orders.placed}
  - {property: completeness, value: 90, unit: percent, element: orders.customer}
"""


def write(folder: Path, *, planted: bool, statistics: bool, group: int) -> Path:
    (folder / "orders").mkdir(parents=True)
    now = datetime(2026, 12, 1)
    for part in range(2):
        ids = [part * 10 + i for i in range(1, 11)]
        table = pa.table(
            {
                "id": ids,
                "customer": [None if planted and i == 3 else i for i in ids],
                "score": [float("nan") if planted and i == 5 else 0.5 for i in ids],
                "day": [
                    date(2025, 12, 31) if planted and i == 7 else date(2026, 2, 1) for i in ids
                ],
                "placed": pa.array([now - timedelta(days=i) for i in ids], pa.timestamp("us")),
                "email": [None if i % 4 == 0 else f"p{i}@mail.example" for i in ids],
            }
        )
        pq.write_table(
            table,
            folder / "orders" / f"part{part}.parquet",
            row_group_size=group,
            write_statistics=statistics,
        )
    path = folder / "contract.odcs.yaml"
    path.write_text(CONTRACT)
    return path


def results(path: Path) -> list[tuple[str, str, object]]:
    return [(c.name, c.outcome.value, c.observed) for c in run_contract_test(path).checks]


def aged(checks: list[tuple[str, str, object]]) -> list[tuple[str, str, object]]:
    """The checks with the freshness check's age left out."""
    return [(n, o, None if n.startswith("fresh") else v) for n, o, v in checks]


@pytest.mark.parametrize("planted", [False, True], ids=["clean", "planted"])
@pytest.mark.parametrize("statistics", [True, False], ids=["footers", "no-footers"])
@pytest.mark.parametrize("group", [3, 100], ids=["small-groups", "one-group"])
def test_footers_settle_what_a_scan_would_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: bool, statistics: bool, group: int
) -> None:
    path = write(tmp_path, planted=planted, statistics=statistics, group=group)
    started = time.monotonic()
    settled = results(path)
    # The same contract with the footers left unread: every rule measured by the scan.
    monkeypatch.setattr(external, "footer_stats", lambda _paths, _private: None)
    scanned = results(path)
    # Freshness is an age in seconds from the clock, which moves on between the two runs.
    ages = [observed for name, _, observed in (*settled, *scanned) if name.startswith("fresh")]
    assert len(ages) == 2
    assert isinstance(ages[0], int)
    assert isinstance(ages[1], int)
    assert 0 <= ages[1] - ages[0] <= math.ceil(time.monotonic() - started) + 1
    assert aged(settled) == aged(scanned)
    outcomes = {name: outcome for name, outcome, _ in settled}
    if planted:
        assert outcomes["column customer not null"] == "failed"
        assert outcomes["score <= 1"] == "failed"  # NaN sorts above 1; footers leave it out
        assert outcomes["day >= 2026-01-01"] == "failed"
    else:
        assert set(outcomes.values()) == {"passed"}


def test_what_the_footers_answer(tmp_path: Path) -> None:
    path = write(tmp_path, planted=True, statistics=True, group=3)
    files = sorted(str(p) for p in (tmp_path / "orders").iterdir())
    with FooterReader() as reader:
        stats = footer_stats(reader.footers(files), {"email"})
    assert stats is not None
    assert stats.rows == 20
    assert stats.columns["id"] == ColumnStats(nulls=0, nans=0, lower=1, upper=20)
    assert stats.columns["customer"].nulls == 1  # id 3, in the first file
    assert stats.columns["day"].lower == "2025-12-31"
    assert stats.columns["placed"].upper == "2026-11-30T00:00:00"
    # Floats keep no bounds (NaN is not counted), nor do private columns.
    assert stats.columns["score"].lower is None
    assert stats.columns["email"] == ColumnStats(nulls=5, nans=None)
    assert path.exists()


def test_the_footers_spare_the_scan_what_they_prove(tmp_path: Path, scans: list[str]) -> None:
    path = write(tmp_path, planted=False, statistics=True, group=3)
    assert {outcome for _, outcome, _ in results(path)} == {"passed"}
    [query] = scans
    # Bounds of whole numbers and dates, null counts and the row count: from the footers.
    assert '"id" >= 1' not in query
    assert '"day" >=' not in query
    assert '"customer" IS NULL' not in query
    # A float's bounds leave NaN out: its range is scanned.
    assert '"score" >= 0' in query
    assert '"score" <= 1' in query
