"""Example meshes: product folders plus seeds that generate their raw files.

An example is a folder with ``example.yaml`` naming its seeds: SQL queries whose
rows are written to a source-aligned product's data files. Quanta itself holds no
example's logic; the retail example lives in ``examples/retail``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import quanta

if TYPE_CHECKING:
    from quanta.context import Progress
    from quanta.mesh import Mesh
    from quanta.model.result import Publication
from quanta.errors import ConfigError, NotFound, UserError

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
    "logs",  # each build's log
    "teams.yaml",  # the mesh's teams file
    "governance",  # the mesh's governance folder: policies and protections
    "keys",  # the keys of pseudonyms and encryption at rest (quanta.governance.keys)
    "audit.head",  # the newest audit entry, kept outside the catalog
    "audit.head.lock",  # taken while that file is written
    "usage-spool",  # reads metered while the catalog was busy (quanta.events.usage)
    "locks",  # publishes and table rewrites take turns here (quanta.locking)
    "lineage",  # each build's OpenLineage events (quanta.events.lineage)
}


class Seed(BaseModel):
    sql: str
    to: str


class AccessStep(BaseModel):
    """A grant the example sets up: requested by the consumer's owner, approved by the
    producer's, through the same flow a user follows."""

    model_config = ConfigDict(populate_by_name=True)

    request: str
    for_product: str = Field(alias="for")
    purpose: str


class Example(BaseModel):
    name: str
    title: str = ""
    seeds: list[Seed] = []
    teams: str | None = None
    """The example's teams file, copied into the mesh home."""
    governance: str | None = None
    """The example's governance folder, copied into the mesh home."""
    access: list[AccessStep] = []


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


def publish_example(
    mesh: Mesh, workspace: Path, example: Example, progress: Progress
) -> list[Publication]:
    """Publish the example's products in build order, each as its owner, after asking the
    owners of what it reads for access (and approving, as they would)."""
    from quanta.model.access import RequestState
    from quanta.model.actor import Actor
    from quanta.validation.batch import load_batch

    if example.teams:
        shutil.copyfile(workspace / example.teams, mesh.home / "teams.yaml")
        mesh.context.access.reload()
    if example.governance:
        target = mesh.home / "governance"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(workspace / example.governance, target)
    publications = []
    for loaded, _ in list(load_batch(workspace, mesh.stores.catalog)):
        product = loaded.product
        if product is None:
            continue
        owner = Actor(name=product.descriptor.contact)
        for step in example.access:
            if step.for_product != str(product.id):
                continue
            progress(str(product.id), f"asking for access to {step.request}")
            try:
                asked = mesh.request_access(
                    step.request, step.purpose, for_product=step.for_product, actor=owner
                )
            except NotFound:
                continue  # it did not publish: the product's publish says so
            if asked.state == RequestState.PENDING:
                producer = Actor(name=mesh.product(asked.product).contact)
                mesh.approve_access(asked.id, "approved for the example mesh", actor=producer)
        publications.extend(mesh.publish(loaded.folder, progress, actor=owner))
    return publications
