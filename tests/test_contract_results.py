"""What ``quanta contract test --json`` tells of each check, so that tools can read it
without parsing names: its kind, schema object, columns, place and line in the contract
file, outcome, measured value and threshold. And schemas a contract closes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from quanta.cli import app
from quanta.model.result import Outcome
from quanta.quality.external import run_contract_test

runner = CliRunner()

ODCS = """\
apiVersion: v3.0.2
kind: DataContract
id: shop.orders
version: 1.0.0
status: active
servers:
  - {server: local, type: local, path: "{model}.parquet", format: parquet}
schema:
  - name: customers
    properties:
      - {name: customer_id, logicalType: integer}
  - name: orders
    properties:
      - name: order_id
        logicalType: integer
        physicalType: BIGINT
        required: true
      - name: status
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {validValues: [paid]}
            mustBe: 0
      - name: customer_id
        logicalType: integer
        relationships: [{type: foreignKey, to: customers.customer_id}]
      - {name: placed_at, logicalType: timestamp}
    quality:
      - {metric: duplicateValues, arguments: {properties: [order_id, status]}, mustBe: 0}
slaProperties:
  - {property: freshness, value: 3650, unit: d, element: orders.placed_at}
"""

DCS = """\
dataContractSpecification: 1.2.1
id: shop
info: {title: Shop, version: 1.0.0}
servers:
  local: {type: local, path: "{model}.parquet", format: parquet}
models:
  orders:
    type: table
    additionalFields: false
    fields:
      order_id: {type: long, required: true}
      status:
        type: string
        pattern: "^[a-z]+$"
        quality:
          - {type: library, metric: nullValues, mustBe: 0}
"""


def data(folder: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "order_id": [1, 2, 2],
                "status": ["paid", "lost", "lost"],
                "customer_id": [10, 11, 99],
                "note": ["a", "b", "c"],
                "placed_at": pa.array([datetime(2026, 1, 1)] * 3, pa.timestamp("us")),
            }
        ),
        folder / "orders.parquet",
    )
    pq.write_table(pa.table({"customer_id": [10, 11]}), folder / "customers.parquet")


def json_checks(path: Path) -> dict[str, dict[str, object]]:
    cli = runner.invoke(app, ["contract", "test", str(path), "--json"])
    assert cli.exit_code == 1, cli.output
    found = json.loads(cli.output)
    return {f"{check['port']}: {check['name']}": check for check in found["checks"]}


def test_each_check_says_what_it_is_and_where_the_odcs_file_declares_it(tmp_path: Path) -> None:
    data(tmp_path)
    path = tmp_path / "contract.odcs.yaml"
    path.write_text(ODCS)
    lines = ODCS.splitlines()
    checks = json_checks(path)

    invalid = checks["orders: status invalidValues = 0"]
    assert invalid["kind"] == "invalidValues"
    assert invalid["columns"] == ["status"]
    assert invalid["location"] == "schema.1.properties.1.quality.0"
    assert lines[invalid["line"] - 1].strip() == "- metric: invalidValues"
    assert invalid["outcome"] == "failed"
    assert invalid["observed"] == 2
    assert invalid["expected"] == "= 0"

    reference = checks["orders: customer_id references customers.customer_id"]
    assert reference["kind"] == "foreignKey"
    assert reference["outcome"] == "failed"
    assert reference["observed"] == 1
    assert reference["location"] == "schema.1.properties.2.relationships.0"
    assert "relationships" in lines[reference["line"] - 1]

    [duplicates] = [c for c in checks.values() if c["kind"] == "duplicateValues"]
    assert duplicates["columns"] == ["order_id", "status"]
    assert duplicates["location"] == "schema.1.quality.0"
    assert "duplicateValues" in lines[duplicates["line"] - 1]

    required = checks["orders: column order_id not null"]
    assert required["kind"] == "required"
    assert required["location"] == "schema.1.properties.0.required"
    assert lines[required["line"] - 1].strip() == "required: true"

    typed = checks["orders: column order_id type"]
    assert typed["location"] == "schema.1.properties.0.physicalType"
    assert lines[typed["line"] - 1].strip() == "physicalType: BIGINT"

    freshness = checks["orders: freshness placed_at within 3650 d"]
    assert freshness["kind"] == "freshness"
    assert freshness["location"] == "slaProperties.0"
    assert "freshness" in lines[freshness["line"] - 1]

    # The service level names orders' column: customers does not carry it.
    assert not [c for c in checks.values() if c["port"] == "customers" and c["kind"] != "type"]
    # The table with no rule beyond its schema is checked, and is told apart by its port.
    assert checks["customers: column customer_id type"]["location"] == (
        "schema.0.properties.0.logicalType"
    )


def test_a_dcs_file_is_pointed_at_by_model_and_field_names(tmp_path: Path) -> None:
    data(tmp_path)
    path = tmp_path / "datacontract.yaml"
    path.write_text(DCS)
    lines = DCS.splitlines()
    checks = json_checks(path)
    pattern = checks["orders: status matches ^[a-z]+$"]
    assert (pattern["kind"], pattern["columns"]) == ("pattern", ["status"])
    assert pattern["location"] == "models.orders.fields.status.pattern"
    assert lines[pattern["line"] - 1].strip().startswith("pattern:")
    nulls = checks["orders: status nullValues = 0"]
    assert nulls["location"] == "models.orders.fields.status.quality.0"
    assert "nullValues" in lines[nulls["line"] - 1]


def test_a_closed_schema_fails_a_column_it_does_not_declare(tmp_path: Path) -> None:
    data(tmp_path)
    path = tmp_path / "datacontract.yaml"
    path.write_text(DCS)
    found = {check.name: check for check in run_contract_test(path).checks}
    note = found["column note declared"]
    assert note.outcome is Outcome.FAILED
    assert "closed" in note.reason
    assert note.kind == "declared"
    # Open, the same column is reported and passes.
    path.write_text(DCS.replace("    additionalFields: false\n", ""))
    found = {check.name: check for check in run_contract_test(path).checks}
    assert found["column note declared"].outcome is Outcome.PASSED
    assert "open" in found["column note declared"].reason


def test_the_text_report_names_the_line_of_each_failure(tmp_path: Path) -> None:
    data(tmp_path)
    path = tmp_path / "contract.odcs.yaml"
    path.write_text(ODCS)
    cli = runner.invoke(app, ["contract", "test", str(path)], env={"COLUMNS": "200"})
    assert cli.exit_code == 1, cli.output
    line = ODCS.splitlines().index("          - metric: invalidValues") + 1
    assert f"status invalidValues = 0 (line {line}):" in cli.output
