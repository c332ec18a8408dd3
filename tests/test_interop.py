"""Contracts in and out: ODCS v3 and the Data Contract Specification, round-tripped."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import UserError
from quanta.interop import export_document, import_document
from quanta.mesh import Mesh
from quanta.model.contract import Contract
from quanta.quality.parsing import parse_rules as compile_contract

ODCS = json.loads(
    resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
)

DCS = """
dataContractSpecification: 1.2.1
id: shop
info: {title: Shop, version: 2.1.0, description: Orders of the shop., owner: shop-team}
servers:
  production: {type: s3, location: s3://bucket/orders}
models:
  orders:
    type: table
    fields:
      order_id: {type: long, required: true, unique: true, primaryKey: true}
      email: {type: text, pii: true, format: email, pattern: '^[^@]+@[^@]+$'}
      status: {type: text, required: true, enum: [placed, shipped]}
      amount: {type: decimal, precision: 12, scale: 2, minimum: 0, maximum: 10000}
      customer_id: {type: text, references: customers.customer_id}
      ordered_at: {type: timestamp, required: true}
    quality:
      - type: sql
        description: Some orders exist.
        query: SELECT count(*) FROM orders
        mustBeGreaterThan: 0
servicelevels:
  freshness: {threshold: 25h, timestampField: orders.ordered_at}
  availability: {percentage: 99.9%}
"""


def errors(document: Any) -> list[str]:
    validator = jsonschema.validators.validator_for(ODCS)(ODCS)
    return [e.message for e in validator.iter_errors(document)]


def test_a_dcs_contract_keeps_every_rule_quanta_runs() -> None:
    result = import_document(yaml.safe_load(DCS))
    assert result.source_format == "dcs"
    [contract] = result.contracts.values()
    assert errors(contract) == []
    parsed = Contract.model_validate(contract)
    columns = {column.name: column for column in parsed.columns}
    assert columns["order_id"].physical_type == "BIGINT"
    assert columns["order_id"].primary_key
    assert columns["email"].classification == "pii"
    assert columns["amount"].physical_type == "DECIMAL(12,2)"
    assert parsed.version == "2.1.0"
    names = {rule.name for rule in compile_contract(parsed).rules}
    assert {
        "order_id unique",
        "email matches ^[^@]+@[^@]+$",
        "amount >= 0",
        "amount <= 10000",
        "status invalidValues = 0",
        "freshness ordered_at within 25 h",
        "customer_id references customers.customer_id",
    } <= names
    assert any(name.startswith("sql > 0") for name in names)
    reported = {item.where for item in result.unmapped}
    assert {
        "servers",
        "servicelevels.availability",
        "models.orders.fields.email.format",
        "models.orders.fields.customer_id.references",
    } <= reported


def test_an_odcs_contract_with_two_tables_becomes_two_contracts() -> None:
    document = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "shop",
        "version": "1.0.0",
        "status": "active",
        "servers": [{"server": "local", "type": "local", "path": "x", "format": "csv"}],
        "schema": [
            {"name": "orders", "properties": [{"name": "id", "logicalType": "integer"}]},
            {
                "name": "customers",
                "properties": [
                    {"name": "id", "logicalType": "string", "quality": [{"metric": "nullCount"}]}
                ],
            },
        ],
    }
    result = import_document(document)
    assert set(result.contracts) == {"orders", "customers"}
    assert result.contracts["orders"]["apiVersion"] == "v3.1.0"
    assert result.contracts["customers"]["id"] == "shop.customers"
    assert errors(result.contracts["orders"]) == []  # customers keeps its wrong metric
    reported = {(item.where, item.reason) for item in result.unmapped}
    assert ("servers", "kept as written; Quanta does not use it") in reported
    assert any("unknown quality metric 'nullCount'" in reason for _, reason in reported)


def test_a_published_contract_exports_as_odcs_and_imports_back_unchanged(
    mesh: Mesh, source_product: Path
) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    contract.write_text(
        contract.read_text().replace(
            "    classification: public\n",
            "    classification: public\n    quality:\n    - {metric: invalidValues, "
            "arguments: {validValues: [general, special]}, mustBe: 0}\n",
        )
    )
    mesh.publish(source_product)
    exported = mesh.export_contract("finance.targets")
    assert errors(exported) == []
    again = import_document(exported)
    assert again.unmapped == []
    assert Contract.model_validate(again.contracts["targets"]) == Contract.model_validate(
        yaml.safe_load(contract.read_text())
    )
    assert export_document(Contract.model_validate(exported)) == exported


def test_the_command_line_imports_without_overwriting(tmp_path: Path) -> None:
    source = tmp_path / "shop.datacontract.yaml"
    source.write_text(DCS)
    runner = CliRunner()
    args = [
        "contract",
        "import",
        str(source),
        "--out",
        str(tmp_path / "c"),
        "--home",
        str(tmp_path / "home"),
    ]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["written"] == [str(tmp_path / "c" / "orders.odcs.yaml")]
    before = (tmp_path / "c" / "orders.odcs.yaml").read_text()
    second = runner.invoke(app, args)
    assert second.exit_code == 2
    assert "exists already" in second.output
    assert (tmp_path / "c" / "orders.odcs.yaml").read_text() == before


@pytest.mark.parametrize(
    "text",
    [
        "just: a mapping\n",
        "- a list\n",
        "[unclosed\n",
        "apiVersion: v3.1.0\nkind: DataContract\nschema: {name: orders}\n",
        "dataContractSpecification: 1.2.1\nmodels: {orders: {fields: [a, b]}}\n",
    ],
)
def test_a_file_that_is_no_contract_is_refused(mesh: Mesh, tmp_path: Path, text: str) -> None:
    source = tmp_path / "x.yaml"
    source.write_text(text)
    with pytest.raises(UserError):
        mesh.import_contract(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_only_table_references_become_the_ports_rows() -> None:
    document = yaml.safe_load(DCS)
    document["models"]["orders"]["quality"][0]["query"] = (
        "SELECT count(*) FROM orders WHERE note = 'orders'"
    )
    rule = import_document(document).contracts["orders"]["schema"][0]["quality"][0]
    assert rule["query"] == "SELECT COUNT(*) FROM ${table} WHERE note = 'orders'"


@pytest.mark.parametrize("table", ["../../escaped", "/tmp/escaped", "a/b", "Orders.x"])
def test_a_table_name_that_is_no_file_name_writes_nothing(
    mesh: Mesh, tmp_path: Path, table: str
) -> None:
    # The table names the contract's file: it must not lead out of --out.
    source = tmp_path / "in" / "x.yaml"
    source.parent.mkdir()
    source.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n"
        f"schema:\n  - name: '{table}'\n    properties:\n      - {{name: a, logicalType: string}}\n"
    )
    with pytest.raises(UserError, match="is not allowed"):
        mesh.import_contract(source, tmp_path / "in" / "out")
    assert sorted(p.name for p in tmp_path.rglob("*.odcs.yaml")) == []


def test_a_link_in_the_out_folder_is_not_written_through(mesh: Mesh, tmp_path: Path) -> None:
    source = tmp_path / "x.yaml"
    source.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n"
        "schema:\n  - name: orders\n    properties:\n      - {name: a, logicalType: string}\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "orders.odcs.yaml").symlink_to(tmp_path / "victim.txt")  # dangling: no file yet

    with pytest.raises(UserError, match="exists already"):
        mesh.import_contract(source, out)
    assert not (tmp_path / "victim.txt").exists()


def test_two_tables_of_one_name_are_refused(mesh: Mesh, tmp_path: Path) -> None:
    source = tmp_path / "x.yaml"
    table = "  - name: orders\n    properties:\n      - {name: a, logicalType: string}\n"
    source.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n"
        f"schema:\n{table}{table}"
    )
    with pytest.raises(UserError, match="two tables are named 'orders'"):
        mesh.import_contract(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("standard", ["odcs", "dcs"])
def test_classifications_are_kept_in_any_case_and_unknown_ones_as_restricted(
    standard: str,
) -> None:
    written = {"email": "PII", "ssn": "Pii-Sensitive", "note": "top secret", "id": "Public"}
    if standard == "odcs":
        document: dict[str, Any] = {
            "apiVersion": "v3.0.2",
            "kind": "DataContract",
            "id": "shop",
            "version": "1.0.0",
            "status": "active",
            "schema": [
                {
                    "name": "people",
                    "properties": [
                        {"name": name, "logicalType": "string", "classification": level}
                        for name, level in written.items()
                    ],
                }
            ],
        }
    else:
        document = {
            "dataContractSpecification": "1.2.1",
            "id": "shop",
            "info": {"title": "Shop", "version": "1.0.0"},
            "models": {
                "people": {
                    "fields": {
                        name: {"type": "string", "classification": level}
                        for name, level in written.items()
                    }
                }
            },
        }
    result = import_document(document)
    columns = {c.name: c for c in Contract.model_validate(result.contracts["people"]).columns}
    assert {name: c.classification for name, c in columns.items()} == {
        "email": "pii",
        "ssn": "pii-sensitive",
        "note": "restricted",  # never sampled or shown until its owners choose a level
        "id": "public",
    }
    assert columns["note"].private
    notes = [u.reason for u in result.unmapped if "classification" in u.where]
    # A change of case is no loss; a level Quanta does not know is told.
    assert notes == [
        "classification 'top secret' is not a level Quanta knows: kept as 'restricted'"
    ]
