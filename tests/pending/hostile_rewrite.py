"""The holes a hostile review of the DuckDB rewrite of flat Iceberg tables
(`IcebergStorage.rewrite` through `_columns_by_file`, `_filtered` and `_data_file` in
src/quanta/storage/iceberg.py) found that are still open: each test fails until its hole
is fixed, and passes once it is. The attacks it withstands are in
tests/test_rewrite_hostile.py.

Run: .venv/bin/pytest tests/pending/hostile_rewrite.py -p no:cacheprovider
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the collected tests' helpers
import contextlib
import json
import os
import subprocess
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quanta.storage import RowsMatching
from test_rewrite_hostile import TABLE, data_files, erase, published, read, writer


def test_float_bounds_survive_a_rewrite_of_a_file_with_nan(tmp_path: Path) -> None:
    """FAILS TODAY (a loss of statistics, not of data). A double column holding a NaN keeps
    its bounds (-2.0 and 3.0 here) in the manifest pyiceberg writes, and loses both once
    DuckDB has written the file again: DuckDB writes no min/max for a float column chunk
    that holds a NaN, so `_data_file` (iceberg.py:452) finds none, and the catalog's
    statistics of the version after an erasure (`staged(..., contents=True)`) have no
    lower or upper bound for it. pyiceberg's writer left NaN out of the bounds.
    """
    data = pa.table({"customer_id": ["a", "b", "c", "d"], "f": pa.array([np.nan, -2.0, 3.0, 1.0])})
    storage = published(tmp_path / "w", data)
    erase(storage, RowsMatching((("customer_id", ("d",)),)))
    staged = storage.staged(TABLE, "v1", contents=True)
    assert staged is not None
    assert staged.stats is not None
    assert [writer(f) for f in data_files(storage)] == ["DuckDB"]
    assert (staged.stats.columns["f"].lower, staged.stats.columns["f"].upper) == (-2.0, 3.0)
