"""JSON Schemas of the two files a product folder holds, for editors to validate them.

The shipped files under ``quanta/schema_files/`` are generated from the models and
kept identical to them by a test; ``quanta schema NAME`` prints one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from quanta.model.contract import Contract
from quanta.model.product import Descriptor

SCHEMA_FOLDER = Path(__file__).parent / "schema_files"
MODELS: dict[str, type[BaseModel]] = {"dataproduct": Descriptor, "contract": Contract}


def generate(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = MODELS[name].model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = {
        "dataproduct": "Quanta data product (ODPS v1.0.0)",
        "contract": "Quanta output port contract (ODCS v3.1.0)",
    }[name]
    return schema


def shipped(name: str) -> str:
    return (SCHEMA_FOLDER / f"{name}.schema.json").read_text(encoding="utf-8")


def render(name: str) -> str:
    return json.dumps(generate(name), indent=2, sort_keys=True) + "\n"


def write_all() -> None:
    """Regenerate the shipped files (python -m quanta.schemas)."""
    SCHEMA_FOLDER.mkdir(exist_ok=True)
    for name in MODELS:
        (SCHEMA_FOLDER / f"{name}.schema.json").write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    write_all()
