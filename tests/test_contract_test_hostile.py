"""``quanta contract test`` against a hostile contract or hostile data: attacks it withstands.

Each test plants something a contract or a data file from elsewhere could hold (SQL in
names, rules that read or write files, control characters, broken files) and asserts
that the command refuses it clearly, or checks the data with the right verdict.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import UserError
from quanta.model.result import Outcome
from quanta.quality.external import run_contract_test

runner = CliRunner()


def odcs(
    properties: str,
    *,
    path: str = "d/{model}.csv",
    fmt: str = "csv",
    name: str = "orders",
    quality: str = "",
    id: str = "x",
    extra: str = "",
) -> str:
    return f"""
apiVersion: v3.0.2
kind: DataContract
id: {json.dumps(id)}
name: x
version: 1.0.0
status: active
servers:
  - {{server: local, type: local, path: {json.dumps(path)}, format: {fmt}{extra}}}
schema:
  - name: {json.dumps(name)}
    properties:
{properties}
{quality}
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


def by_name(result: object) -> dict[str, object]:
    return {check.name: check for check in result.checks}  # type: ignore[attr-defined]


def clear_error(run: object) -> None:
    assert run.exit_code == 2, run.output  # type: ignore[attr-defined]
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception  # type: ignore[attr-defined]


def test_quotes_and_semicolons_in_csv_header_names_are_columns_not_sql(tmp_path: Path) -> None:
    properties = (
        ID + "      - {name: 'a\"b', logicalType: integer, physicalType: BIGINT}\n"
        "      - {name: 'semi;x', logicalType: string}\n"
    )
    contract = write(
        tmp_path, odcs(properties), {"d/orders.csv": 'id,"a""b",semi;x\n1,2,z\n2,x,y\n'}
    )
    found = by_name(run_contract_test(contract))
    assert found['column a"b values read as BIGINT'].outcome == Outcome.FAILED
    assert found['column a"b values read as BIGINT'].observed == 1
    assert found["column semi;x type"].outcome == Outcome.PASSED


@pytest.mark.parametrize(
    "name",
    [
        'o"rders',
        "o\") AS x FROM read_csv('/etc/passwd') --",
        "../../../../etc/passwd",
        "d/../../x",
    ],
)
def test_a_schema_object_name_that_is_sql_or_a_path_is_refused(tmp_path: Path, name: str) -> None:
    contract = write(tmp_path, odcs(ID, name=name), {"d/orders.csv": "id\n1\n"})
    with pytest.raises(UserError, match=r"table name .* is not allowed"):
        run_contract_test(contract)


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("SELECT count(*) FROM read_csv('/etc/passwd')", "read_csv() is not allowed"),
        ("SELECT count(*) FROM read_text('/etc/passwd')", "read_text() is not allowed"),
        ("SELECT count(*) FROM '/etc/passwd'", "reads the file '/etc/passwd' directly"),
        ("SELECT count(*) FROM 'd/other.csv'", "reads the file 'd/other.csv' directly"),
        ("SELECT count(*) FROM glob('/*')", "glob() is not allowed"),
        ("SELECT length(getenv('HOME'))", "getenv() is not allowed"),
        ("SELECT length(current_setting('allowed_paths'))", "current_setting() is not allowed"),
        ("SELECT count(*) FROM read_parquet('https://example.com/x.parquet')", "read_parquet()"),
        ("ATTACH '{out}/evil.db' AS e", "this statement is ATTACH"),
        ("COPY (SELECT 1) TO '{out}/evil.csv'", "this statement is COPY"),
        ("SELECT count(*) FROM orders; COPY (SELECT 1) TO '{out}/e.csv'", "exactly one SELECT"),
        ("INSTALL httpfs", "this statement is INSTALL"),
        ("SET enable_external_access = true", "this statement is SET"),
        ("SELECT count(*) FROM __port_orders", "'__port_orders', which is not declared"),
    ],
)
def test_a_sql_rule_that_reaches_outside_its_table_is_an_error_and_fails(
    tmp_path: Path, query: str, refusal: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    query = query.replace("{out}", str(out))
    quality = f"    quality:\n      - {{type: sql, query: {json.dumps(query)}, mustBe: 0}}\n"
    files = {"d/orders.csv": "id\n1\n2\n", "d/other.csv": "a\n1\n"}
    contract = write(tmp_path, odcs(ID, quality=quality), files)
    result = run_contract_test(contract)
    [rule] = [c for c in result.checks if c.name.startswith("rule at")]
    assert rule.outcome == Outcome.ERROR
    assert refusal in rule.reason
    assert result.outcome == Outcome.ERROR
    run = invoke(contract, "--json")
    assert run.exit_code == 1, run.output  # an error is no pass
    assert json.loads(run.output)["verdict"] == "fail"
    assert list(out.iterdir()) == []  # nothing written


def test_a_sql_rule_on_the_table_still_runs(tmp_path: Path) -> None:
    query = 'SELECT count(*) FROM (SELECT * FROM "orders") t WHERE t.id > 1'
    quality = f"    quality:\n      - {{type: sql, query: {json.dumps(query)}, mustBe: 0}}\n"
    contract = write(tmp_path, odcs(ID, quality=quality), {"d/orders.csv": "id\n1\n2\n"})
    [sql] = [c for c in run_contract_test(contract).checks if c.name.startswith("sql")]
    assert (sql.outcome, sql.observed) == (Outcome.FAILED, 1)


def test_control_characters_and_markup_are_shown_not_obeyed(tmp_path: Path) -> None:
    name = "i\x1b[31md[red]x[/red]"
    properties = (
        f"      - {{name: {json.dumps(name)}, logicalType: string, required: true, quality: "
        "[{metric: invalidValues, arguments: {validValues: [a]}, mustBe: 0}]}\n"
    )
    data = f'"{name}"\n"\x1b]0;pwn\x07v[red]"\n'
    contract = write(tmp_path, odcs(properties, id="a\x1b[2Jb[bold]c"), {"d/orders.csv": data})
    run = invoke(contract)
    assert run.exit_code == 1, run.output
    assert "\x1b" not in run.output
    assert "\x07" not in run.output
    assert "a\\x1b[2Jb[bold]c on server local: fail" in run.output
    assert "i\\x1b[31md[red]x[/red] invalidValues = 0" in run.output
    shown = invoke(contract, "--json")
    assert "\x1b" not in shown.output
    assert json.loads(shown.output)["contract"] == "a\x1b[2Jb[bold]c"


def test_a_csv_column_named_like_the_raw_text_cannot_hide_unreadable_values(
    tmp_path: Path,
) -> None:
    """``__quanta_raw__id`` in the file, empty, beside an ``id`` that is no integer."""
    properties = "      - {name: id, logicalType: integer, physicalType: BIGINT}\n"
    data = "id,__quanta_raw__id\nx,\n1,\n"
    contract = write(tmp_path, odcs(properties), {"d/orders.csv": data})
    found = by_name(run_contract_test(contract))
    check = found["column id values read as BIGINT"]
    assert (check.outcome, check.observed) == (Outcome.FAILED, 1)


def test_files_matched_by_a_wildcard_are_read_by_column_name(tmp_path: Path) -> None:
    properties = ID + "      - {name: b, logicalType: string}\n"
    files = {"d/a/orders.csv": "id,b\n1,x\n", "d/b/orders.csv": "b,id\n2,bad\n"}
    contract = write(tmp_path, odcs(properties, path="d/*/{model}.csv"), files)
    found = by_name(run_contract_test(contract))
    assert found["column id values read as BIGINT"].observed == 1  # bad, from the 2nd file


@pytest.mark.parametrize(
    ("physical", "logical", "values", "unreadable"),
    [
        ("DECIMAL(38,10)", "number", ["12345678901234567890.0123456789", "1.5"], 0),
        ("DECIMAL(38,10)", "number", ["1234567890123456789012345678901.5"], 1),
        ("TIMESTAMP WITH TIME ZONE", "timestamp", ["2024-01-01T10:00:00+02:00"], 0),
        (None, "date", ["31/12/2024", "2024-12-31"], 1),
        (None, "boolean", ["true", "false", "maybe"], 1),
    ],
)
def test_csv_values_are_read_as_the_contract_types_them(
    tmp_path: Path, physical: str | None, logical: str, values: list[str], unreadable: int
) -> None:
    typed = f', physicalType: "{physical}"' if physical else ""
    properties = f"      - {{name: a, logicalType: {logical}{typed}}}\n"
    data = "a\n" + "".join(f"{value}\n" for value in values)
    contract = write(tmp_path, odcs(properties), {"d/orders.csv": data})
    [check] = [c for c in run_contract_test(contract).checks if "values read as" in c.name]
    assert check.observed == unreadable
    assert check.outcome == (Outcome.FAILED if unreadable else Outcome.PASSED)


@pytest.mark.parametrize(
    ("text", "files", "message"),
    [
        (
            odcs(ID).replace("servers:\n  - {server: local", "x:\n  - {server: local"),
            {},
            "names no servers",
        ),
        (odcs(ID).replace('path: "d/{model}.csv", ', ""), {}, "has no path"),
        (odcs(ID, fmt="avro"), {"d/orders.csv": "id\n1\n"}, "not 'avro'"),
        (odcs(ID), {"d/orders.csv": ""}, "is an empty file"),
        (
            odcs(ID, path="d/{model}.json", fmt="json"),
            {"d/orders.json": '{"id": 1'},
            "malformed JSON",
        ),
        (odcs(ID), {"d/orders.csv/x": "id\n1\n"}, "no file matches d/orders.csv"),
        (odcs(ID), {"d/orders.csv": b"id,\xff\xfe\n1,2\n"}, "cannot be read as csv"),
    ],
    ids=["no-servers", "no-path", "unknown-format", "empty", "bad-json", "directory", "not-utf8"],
)
def test_data_it_cannot_read_is_a_clear_error(
    tmp_path: Path, text: str, files: dict[str, str | bytes], message: str
) -> None:
    contract = write(tmp_path, text, files)
    run = invoke(contract)
    assert run.exit_code == 2, run.output
    assert run.exception is None or isinstance(run.exception, SystemExit)
    assert message in " ".join(run.output.split())


def test_json_lines_are_read(tmp_path: Path) -> None:
    files = {"d/orders.json": '{"id": 1}\n{"id": 2}\n{"id": null}\n'}
    contract = write(tmp_path, odcs(ID, path="d/{model}.json", fmt="json"), files)
    found = by_name(run_contract_test(contract))
    assert (found["column id not null"].outcome, found["column id not null"].observed) == (
        Outcome.FAILED,
        1,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"id: \xff\xfe\nkind: DataContract\n", "can't decode"),
        ("a: " + "[" * 500 + "]" * 500 + "\n", "nested more than 64 levels"),
        ("a: &a [1, 2]\nb: [*a, *a]\n", "anchors and aliases"),
        ("apiVersion: v3.0.2\nd: " + "x" * 1_100_000 + "\n", "over the limit"),
        ("- 1\n- 2\n", "not a mapping"),
        ('{"apiVersion": 3}', "not a contract Quanta can import"),
    ],
    ids=["not-utf8", "deep", "aliases", "huge", "list", "no-kind"],
)
def test_a_contract_file_it_cannot_take_is_a_clear_error(
    tmp_path: Path, text: str | bytes, message: str
) -> None:
    contract = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        contract.write_bytes(text)
    else:
        contract.write_text(text)
    run = invoke(contract)
    assert run.exit_code == 2, run.output
    assert message in " ".join(run.output.split())


def test_a_delimiter_is_a_value_not_sql(tmp_path: Path) -> None:
    """A one-character delimiter with a quote in it reaches DuckDB as a literal."""
    text = odcs(ID, extra=', delimiter: "\'"')
    contract = write(tmp_path, text, {"d/orders.csv": "id'x\n1'a\nz'b\n"})
    found = by_name(run_contract_test(contract))
    assert found["column id values read as BIGINT"].observed == 1


def test_nothing_is_written_beside_the_contract_or_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    home.mkdir()
    contract = write(work, odcs(ID), {"d/orders.csv": "id\n1\n"})
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("QUANTA_HOME", raising=False)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    run = invoke(contract, "--json")
    assert run.exit_code == 0, run.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not (work / ".quanta").exists()
    assert not (work / ".tmp").exists()


def test_a_folder_of_data_that_is_a_link_is_read(tmp_path: Path) -> None:
    """The data folder itself may be a link (the user's layout): its files are read."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pq.write_table(pa.table({"id": [1, 1]}), elsewhere / "orders.parquet")
    work = tmp_path / "work"
    work.mkdir()
    (work / "d").symlink_to(elsewhere)
    contract = write(work, odcs(ID, path="d/{model}.parquet", fmt="parquet"))
    found = by_name(run_contract_test(contract))
    assert found["column id not null"].outcome == Outcome.PASSED
    assert found["column id type"].outcome == Outcome.PASSED


def test_a_data_file_that_links_outside_its_folder_is_a_clear_error(tmp_path: Path) -> None:
    """Fixed: A link inside the data folder (d/orders.csv -> /elsewhere/x.csv), or a
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
    """Fixed: A declared column whose data is a STRUCT, a LIST or DuckDB's JSON
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
    """Fixed: A semicolon (or tab) separated CSV whose server names no delimiter is a
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
    """Fixed: ``delimiter: "||"`` (or ``""``) ends in a TypeError traceback
    (""delimiter" must be a 1-character string") from ``csv.reader(file,
    delimiter=delimiter)`` (src/quanta/quality/external.py:228): `_options` lets any
    string through (:164) and nothing checks it before Python's csv module does."""
    contract = write(tmp_path, odcs(ID, extra=', delimiter: "||"'), {"d/orders.csv": "id\n1\n"})
    clear_error(invoke(contract))


def test_header_false_written_as_text_means_no_header(tmp_path: Path) -> None:
    """Fixed: ``header: "false"`` (a string, as YAML writes it quoted) is taken as a
    header: ``bool(server.options["header"])`` is True for every non-empty string
    (src/quanta/quality/external.py:166). A file without a header then loses its first
    row, read as column names: here the bad first value ``x`` is never checked, and the
    contract's ``id`` is reported missing instead of checked."""
    text = odcs("      - {name: column0, logicalType: string}\n", extra=', header: "false"')
    contract = write(tmp_path, text, {"d/orders.csv": "x\n1\n2\n"})
    found = {check.name: check for check in run_contract_test(contract).checks}
    assert found["column column0 type"].outcome == Outcome.PASSED  # column0: no header


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Fixed: A UTF-8 CSV starting with a byte order mark (as spreadsheet programs
    write them) is "Binder Error: Referenced column "\\ufeffid" not found": `_as_typed`
    opens it with ``encoding="utf-8"`` (src/quanta/quality/external.py:227), which keeps
    the mark in the first header name, while DuckDB drops it. ``utf-8-sig`` reads it as
    DuckDB does."""
    contract = write(tmp_path, odcs(ID), {"d/orders.csv": "\ufeffid\n1\nx\n".encode()})
    found = {check.name: check for check in run_contract_test(contract).checks}
    assert found["column id values read as BIGINT"].observed == 1


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    """Fixed: a header ``id,id`` (or ``id,ID``) would have let the second column go
    unread, both names resolving to the first: it is refused, named."""
    for text in ("id,id\n1,x\n2,y\n", "id,ID\n1,x\n"):
        contract = write(tmp_path, odcs(ID), {"d/orders.csv": text})
        with pytest.raises(UserError, match="names a column twice"):
            run_contract_test(contract)


def _with_open_file_limit(contract: Path, soft: int, hard: int) -> subprocess.CompletedProcess[str]:
    script = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        "from quanta.cli import app\n"
        "app(['contract', 'test', sys.argv[1]])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(contract)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_more_files_than_the_open_file_limit_are_read_or_a_clear_error(tmp_path: Path) -> None:
    """A read holds every file of a ``*`` open at once: past the soft limit it raises the
    limit as far as the hard one lets it; past the hard one it says so, never that the
    files "changed while they were read"."""
    (tmp_path / "d").mkdir()
    for number in range(300):
        (tmp_path / "d" / f"orders{number}.csv").write_text(f"id\n{number}\n")
    contract = write(tmp_path, odcs(ID, path="d/{model}*.csv"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard > 1024  # else the first case proves nothing
    raised = _with_open_file_limit(contract, 256, hard)
    assert raised.returncode == 0, raised.stdout + raised.stderr
    capped = _with_open_file_limit(contract, 256, 256)
    assert capped.returncode == 2, capped.stdout + capped.stderr
    said = " ".join((capped.stdout + capped.stderr).split())
    assert "one file too many" in said
    assert "ulimit -n" in said
    assert "changed while it was read" not in said


def test_parquet_columns_named_alike_but_for_case_are_refused(tmp_path: Path) -> None:
    """DuckDB's names are case-insensitive: it would read ``ID`` as ``ID_1`` and report the
    declared column missing. The file is refused with why, as a CSV header is."""
    (tmp_path / "d").mkdir()
    pq.write_table(pa.table({"id": ["1"], "ID": [1]}), tmp_path / "d" / "orders.parquet")
    properties = "      - {name: ID, logicalType: integer, physicalType: BIGINT}\n"
    contract = write(tmp_path, odcs(properties, path="d/{model}.parquet", fmt="parquet"))
    with pytest.raises(UserError, match="alike but for case"):
        run_contract_test(contract)
