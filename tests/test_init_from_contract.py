"""``quanta init DOMAIN/PRODUCT --from-contract FILE``: a source-aligned product whose input
port reads the files of the contract's server and whose output port carries the imported
contract, so that the contract is enforced at every publish."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import UserError
from quanta.mesh import Mesh
from quanta.model.result import Outcome

runner = CliRunner()
EXAMPLE = Path(__file__).parent.parent / "examples" / "contract-test"


def classify(folder: Path, port: str) -> None:
    """Give every column of the port's contract a classification, as its owners must."""
    path = folder / "contracts" / f"{port}.odcs.yaml"
    document = yaml.safe_load(path.read_text())
    for column in document["schema"][0]["properties"]:
        column.setdefault("classification", "internal")
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the README's example contract and its data."""
    copied = tmp_path / "contract-test"
    shutil.copytree(EXAMPLE, copied)
    return copied / "orders.odcs.yaml"


def test_the_product_publishes_under_the_imported_contract(
    mesh: Mesh, workspace: Path, example: Path
) -> None:
    original = (example.parent / "data" / "orders.csv").read_bytes()
    folder, notes = mesh.init_from_contract("shop/orders", example, directory=workspace)
    # What could not be kept, or was assumed, is said: never a guessed classification.
    assert any("no classification" in note and "order_id" in note for note in notes)
    assert any("retention" in note for note in notes)
    descriptor = yaml.safe_load((folder / "dataproduct.yaml").read_text())
    [source] = descriptor["inputPorts"]
    assert source["customProperties"][0]["value"] == {"path": "data/orders.csv", "format": "csv"}
    contract = yaml.safe_load((folder / "contracts" / "orders.odcs.yaml").read_text())
    assert contract["id"] == "shop.orders.orders"
    # Every rule of the contract is carried over.
    quality = contract["schema"][0]["quality"]
    assert {"metric": "rowCount", "mustBeGreaterThan": 0} in quality
    assert any(rule.get("type") == "sql" for rule in quality)

    unclassified = mesh.publish(folder)
    assert unclassified[0].outcome is Outcome.FAILED
    assert "columns-classified" in unclassified[0].reason
    classify(folder, "orders")
    [published] = mesh.publish(folder)
    assert published.outcome is Outcome.PASSED, published.reason
    assert published.version == 1
    rows = mesh.query("SELECT count(*) AS n, sum(amount) AS total FROM shop.orders").to_pylist()
    assert rows[0]["n"] == 5

    # The contract holds at every publish: a planted violation blocks the next one.
    with (folder / "data" / "orders.csv").open("a") as file:
        file.write("9,lost,-5.00,2026-11-29 10:00:00\n")
    [blocked] = mesh.publish(folder)
    assert blocked.outcome is Outcome.FAILED
    assert "status invalidValues" in blocked.reason
    assert "amount >= 0" in blocked.reason
    assert mesh.product("shop.orders").current_version == 1
    # The product's file is its own copy: the contract's data is untouched.
    assert (example.parent / "data" / "orders.csv").read_bytes() == original


def test_several_files_are_copied_beneath_the_port(
    mesh: Mesh, workspace: Path, tmp_path: Path
) -> None:
    data = tmp_path / "elsewhere" / "events"
    data.mkdir(parents=True)
    for day in (1, 2, 3):
        pq.write_table(pa.table({"id": [day * 10, day * 10 + 1]}), data / f"day{day}.parquet")
    contract = tmp_path / "elsewhere" / "events.odcs.yaml"
    contract.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: events\nversion: 2.1.0\nstatus: active\n"
        "servers:\n  - {server: files, type: local, path: 'events/*.parquet', format: parquet}\n"
        "schema:\n  - name: events\n    properties:\n"
        "      - {name: id, logicalType: integer, physicalType: BIGINT, unique: true,"
        " classification: public}\n"
    )
    folder, _ = mesh.init_from_contract("web/events", contract, directory=workspace)
    assert sorted(p.name for p in (folder / "data" / "events").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    [published] = mesh.publish(folder)
    assert published.outcome is Outcome.PASSED, published.reason
    assert mesh.query("SELECT count(*) AS n FROM web.events").to_pylist() == [{"n": 6}]


def test_a_contract_with_several_tables_needs_the_table_named(
    mesh: Mesh, workspace: Path, tmp_path: Path
) -> None:
    (tmp_path / "orders.parquet").write_bytes(b"")
    pq.write_table(pa.table({"id": [1]}), tmp_path / "orders.parquet")
    pq.write_table(pa.table({"id": [1]}), tmp_path / "customers.parquet")
    contract = tmp_path / "shop.odcs.yaml"
    contract.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: shop\nversion: 1.0.0\nstatus: active\n"
        "servers:\n  - {server: files, type: local, path: '{model}.parquet', format: parquet}\n"
        "schema:\n"
        "  - {name: orders, properties: [{name: id, logicalType: integer}]}\n"
        "  - {name: customers, properties: [{name: id, logicalType: integer}]}\n"
    )
    with pytest.raises(UserError, match=r"2 tables \(orders, customers\).*--table"):
        mesh.init_from_contract("shop/orders", contract, directory=workspace)
    assert not (workspace / "shop").exists()
    folder, _ = mesh.init_from_contract(
        "shop/customers", contract, directory=workspace, table="customers"
    )
    assert (folder / "contracts" / "customers.odcs.yaml").exists()
    with pytest.raises(UserError, match="no table 'nope'"):
        mesh.init_from_contract("shop/other", contract, directory=workspace, table="nope")


def test_what_it_cannot_make_is_a_clear_error_and_writes_nothing(
    workspace: Path, tmp_path: Path, example: Path
) -> None:
    database = tmp_path / "db.odcs.yaml"
    database.write_text(
        example.read_text().replace(
            '{server: local, type: local, path: "data/{model}.csv", format: csv}',
            "{server: db, type: postgres, host: localhost, port: 5432, database: shop}",
        )
    )
    home = ["--home", str(tmp_path / "home")]
    cli = runner.invoke(app, ["init", "shop/orders", "--from-contract", str(database), *home])
    assert cli.exit_code == 2, cli.output
    assert "needs a server of type local" in cli.output
    assert not (workspace / "shop").exists()

    cli = runner.invoke(app, ["init", "shop/orders", "--server", "local", *home])
    assert cli.exit_code == 2, cli.output
    assert "--from-contract" in cli.output

    (workspace / "shop" / "orders").mkdir(parents=True)
    (workspace / "shop" / "orders" / "mine.txt").write_text("kept")
    cli = runner.invoke(app, ["init", "shop/orders", "--from-contract", str(example), *home])
    assert cli.exit_code == 2, cli.output
    assert "not empty" in cli.output
    assert [p.name for p in (workspace / "shop" / "orders").iterdir()] == ["mine.txt"]


def test_the_command_line_reports_the_folder_and_the_notes_as_json(
    workspace: Path, tmp_path: Path, example: Path
) -> None:
    cli = runner.invoke(
        app,
        [
            "init",
            "shop/orders",
            "--from-contract",
            str(example),
            "--json",
            "--home",
            str(tmp_path / "home"),
        ],
    )
    assert cli.exit_code == 0, cli.output
    found = json.loads(cli.output)
    assert Path(found["folder"]) == Path("shop/orders")
    assert any("classification" in note for note in found["notes"])
