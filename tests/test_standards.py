"""Quanta's files are the open standards' files: they validate against the official schemas."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from quanta import schemas
from quanta.examples import example_root
from quanta.scaffold import BLUEPRINTS, scaffold

STANDARDS = Path(__file__).parent / "standards"
ODPS = json.loads((STANDARDS / "odps-json-schema-v1.0.0.json").read_text())
ODCS = json.loads(
    resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
)
EXAMPLE = example_root("retail")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


DESCRIPTORS = sorted(EXAMPLE.glob("*/*/dataproduct.yaml"))
CONTRACTS = sorted(EXAMPLE.glob("*/*/contracts/*.odcs.yaml"))


def test_the_example_has_six_products_with_contracts() -> None:
    assert len(DESCRIPTORS) == 6
    assert len(CONTRACTS) == 7


@pytest.mark.parametrize("path", DESCRIPTORS, ids=lambda p: p.parent.name)
def test_example_descriptors_are_odps(path: Path) -> None:
    assert errors(ODPS, load(path)) == []
    assert errors(schemas.generate("dataproduct"), load(path)) == []


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.name)
def test_example_contracts_are_odcs(path: Path) -> None:
    assert errors(ODCS, load(path)) == []
    assert errors(schemas.generate("contract"), load(path)) == []


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_scaffolded_files_are_odps_and_odcs(blueprint: str, tmp_path: Path) -> None:
    from quanta.model.catalog import ColumnInfo, PortVersion

    port = PortVersion(
        port="targets",
        contract_version="1.0.0",
        table="finance.targets__targets__v1",
        snapshot_id=1,
        metadata_location="file:///m.json",
        location="file:///t",
        rows=0,
        bytes=0,
        columns=[
            ColumnInfo(
                name="id",
                type="BIGINT",
                logical_type="integer",
                nullable=False,
                primary_key=True,
                classification="internal",
            )
        ],
    )
    upstream = {} if blueprint == "source" else {"finance.targets": port}
    folder = scaffold(f"demo/{blueprint}_product", blueprint, tmp_path, upstream)
    assert errors(ODPS, load(folder / "dataproduct.yaml")) == []
    [contract] = (folder / "contracts").glob("*.odcs.yaml")
    assert errors(ODCS, load(contract)) == []


def test_a_typo_breaks_both_the_standard_and_quantas_schema() -> None:
    document = load(DESCRIPTORS[0])
    document["outputPort"] = document.pop("outputPorts")
    assert errors(ODPS, document)
    assert errors(schemas.generate("dataproduct"), document)


@pytest.mark.parametrize("name", sorted(schemas.MODELS))
def test_shipped_schemas_are_generated_from_the_models(name: str) -> None:
    # Regenerate with: python -m quanta.schemas
    assert schemas.shipped(name) == schemas.render(name)
