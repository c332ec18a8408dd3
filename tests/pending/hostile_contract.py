"""``quanta contract test``: bugs a hostile contract or data file finds that are still
open (not collected). Each test states what should happen; it fails today for the reason
its docstring gives.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the collected tests' helpers
import pyarrow as pa
import pyarrow.parquet as pq

from quanta.quality.external import run_contract_test
from test_contract_test_hostile import ID, odcs, write


def test_many_files_over_the_open_file_limit_are_a_clear_error(tmp_path: Path) -> None:
    """FAILS TODAY. A ``*`` matching more files than the process may open (macOS's default
    limit is 256) says "the source 'ordersN.csv' changed while it was read (a link or
    another kind of file took its place)": the session holds one descriptor per file
    (src/quanta/engines/duckdb_sandbox.py:38-41), and `open_inside` turns every OSError,
    EMFILE too, into `_changed` (src/quanta/product_files.py:106-107)."""
    for number in range(300):
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / f"orders{number}.csv").write_text(f"id\n{number}\n")
    contract = write(tmp_path, odcs(ID, path="d/{model}*.csv"))
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
        "from quanta.cli import app\n"
        "app(['contract', 'test', sys.argv[1]])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(contract)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "changed while it was read" not in run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr


def test_parquet_columns_differing_only_in_case_are_both_seen(tmp_path: Path) -> None:
    """FAILS TODAY. The duplicate-name trap of the test above, with a
    Parquet file whose columns differ only in case (``id``, ``ID``): the declared ``ID``
    is reported missing ("column ID exists" failed) while the file has it, because
    DuckDB's names are case-insensitive and it renamed the second ``ID_1`` on read
    (the names come from `session.columns`, src/quanta/quality/checking.py:76-79)."""
    (tmp_path / "d").mkdir()
    pq.write_table(pa.table({"id": ["1"], "ID": [1]}), tmp_path / "d" / "orders.parquet")
    properties = "      - {name: ID, logicalType: integer, physicalType: BIGINT}\n"
    contract = write(tmp_path, odcs(properties, path="d/{model}.parquet", fmt="parquet"))
    found = {check.name: check for check in run_contract_test(contract).checks}
    assert "column ID exists" not in found
