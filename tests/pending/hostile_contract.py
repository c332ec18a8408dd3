"""``quanta contract test``: bugs a hostile contract or data file finds (not collected).

Each test states what should happen; it fails today for the reason its docstring gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from quanta.cli import app
from quanta.model.result import Outcome
from quanta.quality.external import run_contract_test

runner = CliRunner()


def odcs(properties: str, *, path: str = "d/{model}.csv", fmt: str = "csv", extra: str = "") -> str:
    return f"""
apiVersion: v3.0.2
kind: DataContract
id: x
name: x
version: 1.0.0
status: active
servers:
  - {{server: local, type: local, path: {json.dumps(path)}, format: {fmt}{extra}}}
schema:
  - name: orders
    properties:
{properties}
"""


ID = "      - {name: id, logicalType: integer, physicalType: BIGINT, required: true}\n"


def write(folder: Path, text: str, files: dict[str, str | bytes] | None = None) -> Path:
    for name, content in (files or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    contract = folder / "c.yaml"
    contract.write_text(text)
    return contract


def invoke(contract: Path, *args: str) -> object:
    return runner.invoke(app, ["contract", "test", str(contract), *args], env={"COLUMNS": "250"})


def clear_error(run: object) -> None:
    assert run.exit_code == 2, run.output  # type: ignore[attr-defined]
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception  # type: ignore[attr-defined]


def test_a_data_file_that_links_outside_its_folder_is_a_clear_error(tmp_path: Path) -> None:
    """FAILS TODAY. A link inside the data folder (d/orders.csv -> /elsewhere/x.csv), or a
    ``*`` that matches one (``/etc/*`` matches /etc/localtime), ends in a ValueError
    traceback, not a refusal. `scan` hands over ``path.resolve()`` (the link's target,
    src/quanta/quality/external.py:154) with ``root`` the unresolved pattern's folder
    (:157); `open_inside` then calls ``path.relative_to(root)``
    (src/quanta/product_files.py:89), which raises ValueError, which is no `OutsideFolder`
    and so is not turned into `QueryRefused` (src/quanta/engines/duckdb.py:125)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.csv").write_text("id\n1\n")
    (tmp_path / "work" / "d").mkdir(parents=True)
    (tmp_path / "work" / "d" / "orders.csv").symlink_to(elsewhere / "secret.csv")
    clear_error(invoke(write(tmp_path / "work", odcs(ID))))


def test_a_declared_column_of_nested_values_is_a_failed_check_not_a_traceback(
    tmp_path: Path,
) -> None:
    """FAILS TODAY. A declared column whose data is a STRUCT, a LIST or DuckDB's JSON
    (JSON lines whose values mix numbers and text) ends in a ValueError traceback
    ("unknown type 'BIGINT[]'"): `schema_rule` calls ``parse_physical_type(storable_type(
    actual) or actual)`` on the data's type (src/quanta/quality/conformance.py:88), and
    neither knows nested types. It should be a failed "column l type" check (or the type
    accepted for an array field)."""
    properties = ID + "      - {name: l, logicalType: array, items: {logicalType: integer}}\n"
    files = {"d/orders.json": '{"id": 1, "l": [1, 2]}\n{"id": 2, "l": [3]}\n'}
    contract = write(tmp_path, odcs(properties, path="d/{model}.json", fmt="json"), files)
    run = invoke(contract, "--json")
    assert run.exit_code in (0, 1), run.output
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception


def test_a_csv_without_a_delimiter_is_read_as_duckdb_reads_it(tmp_path: Path) -> None:
    """FAILS TODAY. A semicolon (or tab) separated CSV whose server names no delimiter is a
    "Binder Error: Referenced column "id;status" not found" (the file's first line, shown
    in the error) instead of being checked: `_as_typed` splits the header on ','
    (src/quanta/quality/external.py:226-228) while DuckDB, given no ``delim``
    (`_options`, :163-167), sniffs ';' and names the columns id and status. The two
    readers must agree: pass ``delim`` ',' to DuckDB, or take the header DuckDB reads."""
    properties = ID + "      - {name: status, logicalType: string}\n"
    contract = write(tmp_path, odcs(properties), {"d/orders.csv": "id;status\n1;x\ny;z\n"})
    result = run_contract_test(contract)
    found = {check.name: check for check in result.checks}
    assert found["column id values read as BIGINT"].observed == 1


def test_a_delimiter_of_several_characters_is_a_clear_error(tmp_path: Path) -> None:
    """FAILS TODAY. ``delimiter: "||"`` (or ``""``) ends in a TypeError traceback
    (""delimiter" must be a 1-character string") from ``csv.reader(file,
    delimiter=delimiter)`` (src/quanta/quality/external.py:228): `_options` lets any
    string through (:164) and nothing checks it before Python's csv module does."""
    contract = write(tmp_path, odcs(ID, extra=', delimiter: "||"'), {"d/orders.csv": "id\n1\n"})
    clear_error(invoke(contract))


def test_header_false_written_as_text_means_no_header(tmp_path: Path) -> None:
    """FAILS TODAY. ``header: "false"`` (a string, as YAML writes it quoted) is taken as a
    header: ``bool(server.options["header"])`` is True for every non-empty string
    (src/quanta/quality/external.py:166). A file without a header then loses its first
    row, read as column names: here the bad first value ``x`` is never checked, and the
    contract's ``id`` is reported missing instead of checked."""
    text = odcs("      - {name: column0, logicalType: string}\n", extra=', header: "false"')
    contract = write(tmp_path, text, {"d/orders.csv": "x\n1\n2\n"})
    found = {check.name: check for check in run_contract_test(contract).checks}
    assert found["column column0 type"].outcome == Outcome.PASSED  # column0: no header


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """FAILS TODAY. A UTF-8 CSV starting with a byte order mark (as spreadsheet programs
    write them) is "Binder Error: Referenced column "\\ufeffid" not found": `_as_typed`
    opens it with ``encoding="utf-8"`` (src/quanta/quality/external.py:227), which keeps
    the mark in the first header name, while DuckDB drops it. ``utf-8-sig`` reads it as
    DuckDB does."""
    contract = write(tmp_path, odcs(ID), {"d/orders.csv": "\ufeffid\n1\nx\n".encode()})
    found = {check.name: check for check in run_contract_test(contract).checks}
    assert found["column id values read as BIGINT"].observed == 1


def test_a_csv_header_naming_a_column_twice_does_not_pass_unchecked(tmp_path: Path) -> None:
    """FAILS TODAY. A header ``id,id`` whose second column holds no integers passes every
    check: `_as_typed` exposes ``TRY_CAST("id" ...)`` for each header name
    (src/quanta/quality/external.py:231-247), so both resolve to the first column (DuckDB
    renamed the second ``id_1``, and the view renames the copy ``id_1`` again); the second
    column's values are never read, and the report names a column ``id_1`` the file does
    not have. A name twice in a header (or twice but for case: ``id,ID``, where the
    declared ``ID`` is then reported missing) should fail a check."""
    contract = write(tmp_path, odcs(ID), {"d/orders.csv": "id,id\n1,x\n2,y\n"})
    result = run_contract_test(contract)
    assert result.outcome != Outcome.PASSED


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
