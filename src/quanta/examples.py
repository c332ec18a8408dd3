"""Example meshes: product folders plus seeds that generate their raw files.

An example is a folder with ``example.yaml`` naming its seeds: SQL queries whose
rows are written to a source-aligned product's data files. Quanta itself holds no
example's logic; the retail example lives in ``examples/retail``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

import quanta
from quanta.errors import ConfigError, UserError

EXAMPLE_FILE = "example.yaml"
# What a mesh home holds; a folder with anything else is never wiped by --force.
HOME_ENTRIES = {
    "catalog.db",
    "catalog.db-wal",
    "catalog.db-shm",
    "warehouse",
    "extensions",
    "examples",
    "scratch",  # Python transformations hand their tables over here
}


class Seed(BaseModel):
    sql: str
    to: str


class Example(BaseModel):
    name: str
    title: str = ""
    seeds: list[Seed] = []


def example_root(name: str) -> Path:
    """The example's folder: packaged with Quanta, or in a source checkout."""
    package = Path(quanta.__file__).parent
    for candidate in (package / "_examples" / name, package.parents[1] / "examples" / name):
        if (candidate / EXAMPLE_FILE).is_file():
            return candidate
    raise ConfigError(f"the example {name!r} is not installed with this copy of Quanta")


def load_example(root: Path) -> Example:
    try:
        return Example.model_validate(yaml.safe_load((root / EXAMPLE_FILE).read_text("utf-8")))
    except (ValidationError, yaml.YAMLError) as error:
        raise ConfigError(f"{root / EXAMPLE_FILE} is not a valid example: {error}") from None


def copy_example(root: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("data", "__pycache__"))
    return target


def clear_home(home: Path, force: bool) -> None:
    """Make ``home`` an empty mesh home; with ``force``, wipe an earlier mesh that was there."""
    if not home.exists() or not any(home.iterdir()):
        return
    entries = {entry.name for entry in home.iterdir()}
    if not force:
        raise UserError(
            f"the mesh home {home} is not empty: pass --force to replace it, or "
            "--home with another folder"
        )
    unknown = sorted(entries - HOME_ENTRIES)
    if unknown:
        raise UserError(
            f"{home} holds files that are not a mesh's ({', '.join(unknown[:3])}): "
            "Quanta will not delete them; choose another --home"
        )
    shutil.rmtree(home)
