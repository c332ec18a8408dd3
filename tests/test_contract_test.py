"""``quanta contract test``: a contract from elsewhere checked on its data where it lives,
with no mesh home, nothing published, every check reported in one run."""

from __future__ import annotations

import json
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

ODCS = """
apiVersion: v3.0.2
kind: DataContract
id: shop.orders
name: orders
version: 1.0.0
status: active
servers:
  - {server: local, type: local, path: "data/{model}.parquet", format: parquet}
  - {server: elsewhere, type: s3, path: "s3://bucket/{model}.parquet"}
schema:
  - name: orders
    physicalType: table
    properties:
      - {name: order_id, logicalType: integer, physicalType: BIGINT, required: true, unique: true}
      - name: status
        logicalType: string
        physicalType: VARCHAR
        quality:
          - {metric: invalidValues, arguments: {validValues: [paid, refunded]}, mustBe: 0}
      - {name: amount, logicalType: number, physicalType: DOUBLE}
"""

DCS = """
dataContractSpecification: 1.2.1
id: shop
info: {title: Shop, version: 2.1.0}
servers:
  local: {type: local, path: "csv/{model}.csv", format: csv, delimiter: ";"}
models:
  orders:
    type: table
    fields:
      order_id: {type: long, required: true, unique: true}
      status: {type: text, required: true, enum: [paid, refunded]}
  customers:
    type: table
    fields:
      customer_id: {type: text, required: true, unique: true}
"""


def orders(folder: Path, *, planted: bool) -> None:
    """``folder``/data/orders.parquet: clean, or with a duplicate id and an unknown status."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    ids = [1, 2, 3, 3] if planted else [1, 2, 3, 4]
    status = ["paid", "paid", "lost", "refunded"] if planted else ["paid"] * 4
    table = pa.table({"order_id": ids, "status": status, "amount": [1.0, 2.5, 3.0, 4.0]})
    pq.write_table(table, folder / "data" / "orders.parquet")


def contract(folder: Path, text: str = ODCS) -> Path:
    path = folder / "orders.odcs.yaml"
    path.write_text(text)
    return path


def outcomes(result: object) -> dict[str, Outcome]:
    return {check.name: check.outcome for check in result.checks}  # type: ignore[attr-defined]


def test_clean_data_passes_every_check(tmp_path: Path) -> None:
    orders(tmp_path, planted=False)
    result = run_contract_test(contract(tmp_path))
    assert result.server == "local"  # the first server
    assert result.outcome == Outcome.PASSED
    found = outcomes(result)
    assert found["order_id unique"] == Outcome.PASSED
    assert found["status invalidValues = 0"] == Outcome.PASSED
    assert found["column order_id not null"] == Outcome.PASSED
    assert not (tmp_path / ".quanta").exists()  # no mesh home made


def test_planted_violations_fail_their_checks_and_every_other_check_runs(tmp_path: Path) -> None:
    orders(tmp_path, planted=True)
    result = run_contract_test(contract(tmp_path))
    assert result.outcome == Outcome.FAILED
    found = outcomes(result)
    assert found["order_id unique"] == Outcome.FAILED
    assert found["status invalidValues = 0"] == Outcome.FAILED
    assert found["column order_id not null"] == Outcome.PASSED
    assert found["column amount type"] == Outcome.PASSED
    [unique] = [c for c in result.checks if c.name == "order_id unique"]
    assert unique.observed == 1


def test_the_command_line_reports_json_and_exits_by_the_verdict(tmp_path: Path) -> None:
    orders(tmp_path, planted=True)
    path = contract(tmp_path)
    run = runner.invoke(app, ["contract", "test", str(path), "--json"])
    assert run.exit_code == 1, run.output
    shown = json.loads(run.output)
    assert shown["verdict"] == "fail"
    assert shown["server"] == "local"
    assert {c["name"]: c["outcome"] for c in shown["checks"]}["order_id unique"] == "failed"
    orders(tmp_path, planted=False)
    run = runner.invoke(app, ["contract", "test", str(path)], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "shop.orders on server local: pass" in run.output


def test_a_dcs_contract_reads_csv_files_one_per_model(tmp_path: Path) -> None:
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "orders.csv").write_text("order_id;status\n1;paid\n2;shipped\n")
    (tmp_path / "csv" / "customers.csv").write_text("customer_id\nc-1\nc-2\nc-2\n")
    result = run_contract_test(contract(tmp_path, DCS))
    by_object = {(c.port, c.name): c.outcome for c in result.checks}
    assert by_object[("orders", "order_id unique")] == Outcome.PASSED
    assert by_object[("orders", "status invalidValues = 0")] == Outcome.FAILED  # shipped
    assert by_object[("customers", "customer_id unique")] == Outcome.FAILED


def test_a_path_with_a_wildcard_reads_every_file_it_matches(tmp_path: Path) -> None:
    for part, ids in (("a", [1, 2]), ("b", [3, 3])):
        folder = tmp_path / "data" / part
        folder.mkdir(parents=True)
        table = pa.table({"order_id": ids, "status": ["paid"] * 2, "amount": [1.0, 2.0]})
        pq.write_table(table, folder / "orders.parquet")
    text = ODCS.replace('"data/{model}.parquet"', '"data/*/{model}.parquet"')
    result = run_contract_test(contract(tmp_path, text))
    assert outcomes(result)["order_id unique"] == Outcome.FAILED  # 3 twice, across files


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("elsewhere", "reads local files"),
        ("nowhere", "no server 'nowhere' in the contract"),
    ],
)
def test_a_server_it_cannot_read_is_a_clear_error(
    tmp_path: Path, server: str, message: str
) -> None:
    orders(tmp_path, planted=False)
    with pytest.raises(UserError, match=message):
        run_contract_test(contract(tmp_path), server)
    run = runner.invoke(app, ["contract", "test", str(contract(tmp_path)), "--server", server])
    assert run.exit_code != 0
    assert "Traceback" not in run.output
    assert message in " ".join(run.output.split())


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no file matches data/orders\.parquet"):
        run_contract_test(contract(tmp_path))


def test_a_missing_column_does_not_hide_the_other_problems(tmp_path: Path) -> None:
    orders(tmp_path, planted=True)
    table = pq.read_table(tmp_path / "data" / "orders.parquet").drop_columns(["status"])
    pq.write_table(table, tmp_path / "data" / "orders.parquet")
    result = run_contract_test(contract(tmp_path))
    found = {check.name: check for check in result.checks}
    assert found["column status exists"].outcome == Outcome.FAILED
    assert found["status invalidValues = 0"].outcome == Outcome.SKIPPED
    assert "missing" in found["status invalidValues = 0"].reason
    assert found["order_id unique"].outcome == Outcome.FAILED  # still checked
    assert found["column order_id not null"].outcome == Outcome.PASSED


@pytest.mark.parametrize(
    ("values", "outcome"), [([1, 2**31 - 1], "passed"), ([1, 2**31], "failed")]
)
def test_an_integer_width_the_data_satisfies_is_no_failure(
    tmp_path: Path, values: list[int], outcome: str
) -> None:
    """The contract says INTEGER; the file stores BIGINT (as pyarrow writes Python ints):
    the type holds while every value fits INTEGER."""
    (tmp_path / "data").mkdir()
    table = pa.table({"order_id": values, "status": ["paid"] * 2, "amount": [1.0, 2.0]})
    pq.write_table(table, tmp_path / "data" / "orders.parquet")
    result = run_contract_test(contract(tmp_path, ODCS.replace("BIGINT", "INTEGER")))
    [check] = [c for c in result.checks if c.name == "column order_id type"]
    assert check.outcome == Outcome(outcome)
    assert (check.observed, check.expected) == ("BIGINT", "INTEGER")


def test_a_column_the_contract_does_not_declare_is_reported_not_failed(tmp_path: Path) -> None:
    orders(tmp_path, planted=False)
    table = pq.read_table(tmp_path / "data" / "orders.parquet")
    pq.write_table(
        table.append_column("note", pa.array(["x"] * 4)), tmp_path / "data" / "orders.parquet"
    )
    result = run_contract_test(contract(tmp_path))
    [check] = [c for c in result.checks if c.name == "column note declared"]
    assert check.outcome == Outcome.PASSED
    assert "does not declare" in check.reason
    assert result.outcome == Outcome.PASSED


WRITTEN_ELSEWHERE = """
apiVersion: v3.0.2
kind: DataContract
id: shop.orders
name: orders
version: 1.0.0
status: active
servers:
  - {server: local, type: local, path: "data/{model}.parquet"}
schema:
  - name: orders
    properties:
      - {name: order_id, logicalType: integer, physicalType: BIGINT}
      - {name: amount, logicalType: number, physicalType: DOUBLE}
      - {name: day, logicalType: date}
    quality:
      - {type: sql, query: "SELECT count(*) FROM orders WHERE amount < 0", mustBe: 0}
      - {metric: duplicateValues, arguments: {properties: [order_id, day]}, mustBe: 0}
slaProperties:
  - {property: freshness, value: PT72H, element: orders.day}
"""


def test_rules_as_other_tools_write_them_run(tmp_path: Path) -> None:
    """SQL naming the table by its schema name, duplicateValues over several columns, and
    freshness as an ISO 8601 duration: accepted as other tools accept them."""
    from datetime import date, timedelta

    (tmp_path / "data").mkdir()
    today = date.today()
    days = [today, today, today - timedelta(days=1), today]
    table = pa.table({"order_id": [1, 1, 2, 3], "amount": [1.0, -1.0, 2.0, 3.0], "day": days})
    pq.write_table(table, tmp_path / "data" / "orders.parquet")
    result = run_contract_test(contract(tmp_path, WRITTEN_ELSEWHERE))
    found = {check.name: check for check in result.checks}
    sql = found["sql = 0: SELECT COUNT(*) FROM ${table} WHERE amount < 0"]
    assert (sql.outcome, sql.observed) == (Outcome.FAILED, 1)
    duplicates = found["order_id, day duplicateValues = 0"]
    assert (duplicates.outcome, duplicates.observed) == (Outcome.FAILED, 1)
    assert found["freshness day within PT72H"].outcome == Outcome.PASSED
    assert not [c for c in result.checks if c.outcome == Outcome.ERROR]


DCS_LIBRARY = """
dataContractSpecification: 1.2.1
id: events
info: {title: Events, version: 1.0.0}
servers:
  local: {type: local, path: "data/{model}.parquet", format: parquet}
models:
  events:
    type: table
    fields:
      id: {type: long, required: true}
      at: {type: timestamp, required: true}
    quality:
      - {type: library, metric: rowCount, mustBeGreaterThan: 5}
      - {type: library, metric: duplicateValues, arguments: {properties: [id, at]}, mustBe: 0}
"""


@pytest.mark.parametrize("zone", [None, "UTC"], ids=["without-zone", "with-zone"])
def test_a_dcs_timestamp_holds_either_kind_and_library_rules_run(
    tmp_path: Path, zone: str | None
) -> None:
    (tmp_path / "data").mkdir()
    at = pa.array([0, 10**6, 2 * 10**6], pa.timestamp("us", tz=zone))
    pq.write_table(pa.table({"id": [1, 2, 2], "at": at}), tmp_path / "data" / "events.parquet")
    result = run_contract_test(contract(tmp_path, DCS_LIBRARY))
    found = {check.name: check.outcome for check in result.checks}
    assert found["column at type"] == Outcome.PASSED
    assert found["rowCount > 5"] == Outcome.FAILED  # 3 rows
    assert found["id, at duplicateValues = 0"] == Outcome.PASSED
    assert Outcome.ERROR not in found.values()


def test_csv_columns_are_read_as_the_contract_types_them(tmp_path: Path) -> None:
    """A value that does not read as its column's type is a failed check counting the rows,
    not a failed read, and the other rules still run on the values that do read."""
    (tmp_path / "csv").mkdir()
    rows = "order_id;status\n1;paid\n2;paid\nthree;refunded\n4;lost\n"
    (tmp_path / "csv" / "orders.csv").write_text(rows)
    (tmp_path / "csv" / "customers.csv").write_text("customer_id\nc-1\n")
    result = run_contract_test(contract(tmp_path, DCS))
    found = {(c.port, c.name): c for c in result.checks}
    unreadable = found[("orders", "column order_id values read as BIGINT")]
    assert (unreadable.outcome, unreadable.observed) == (Outcome.FAILED, 1)
    assert found[("orders", "column order_id type")].outcome == Outcome.PASSED
    assert found[("orders", "status invalidValues = 0")].observed == 1  # lost
    assert found[("orders", "order_id unique")].outcome == Outcome.PASSED
    assert all(not name.startswith("column __quanta") for _, name in found)


def test_the_readmes_example_contract_passes() -> None:
    """The README's first screen runs `quanta contract test` on the example beside it."""
    root = Path(__file__).parents[1]
    readme = (root / "README.md").read_text()
    command = ".venv/bin/quanta contract test examples/contract-test/orders.odcs.yaml"
    assert command in readme
    run = runner.invoke(app, ["contract", "test", str(root / command.split()[-1]), "--json"])
    assert run.exit_code == 0, run.output
    shown = json.loads(run.output)
    assert shown["verdict"] == "pass"
    assert len(shown["checks"]) >= 10
