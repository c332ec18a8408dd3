"""One table per output port: no two ports of the mesh are ever stored in the same table.

Table names join product and port with ``__``, which names could contain: ``col.x__y``
(port ``z``) and ``col.x`` (port ``y__z``) both used ``x__y__z__v1``, and the second
product's build could read and republish the first one's rows.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from pathlib import Path

import pytest

from quanta.mesh import Mesh
from quanta.model.names import ProductId, new_name_problem
from quanta.model.result import Outcome
from quanta.scaffold import scaffold
from quanta.storage import port_table


def rename(folder: Path, old: str, new: str) -> None:
    for path in (folder / "dataproduct.yaml", *folder.glob("contracts/*.yaml")):
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_a_product_name_with_two_underscores_in_a_row_is_refused(
    mesh: Mesh, workspace: Path
) -> None:
    folder = scaffold("col/x", "source", workspace, {})
    rename(folder, "col.x", "col.x__y")

    [validation] = mesh.validate(folder)

    assert [issue.field for issue in validation.issues] == ["id"]
    assert "two underscores in a row" in validation.issues[0].message


def test_a_port_name_with_two_underscores_in_a_row_is_refused(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("col/x", "source", workspace, {})
    descriptor = folder / "dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("- name: x\n", "- name: y__z\n"))

    [validation] = mesh.validate(folder)

    assert any(
        issue.field == "outputPorts[0].name" and "two underscores in a row" in issue.message
        for issue in validation.issues
    ), validation.issues


def test_the_table_of_a_port_names_it_alone() -> None:
    # Every valid product and port name over a small alphabet, every pair of them.
    letters = ["a", "b", "_"]
    names = [
        "".join(parts)
        for size in range(1, 5)
        for parts in itertools.product(letters, repeat=size)
        if parts[0] != "_" and new_name_problem("".join(parts), "name") is None
    ]
    seen: dict[str, tuple[str, str, int]] = {}
    for product, port, major in itertools.product(names, names, (1, 11)):
        table = str(port_table(ProductId("d", product), port, major))
        assert seen.setdefault(table, (product, port, major)) == (product, port, major), table


def test_a_table_another_product_fills_is_refused_at_validate(mesh: Mesh, workspace: Path) -> None:
    first = scaffold("finance/targets", "source", workspace, {})
    [publication] = mesh.publish(first)
    assert publication.outcome == Outcome.PASSED
    second = scaffold("finance/other", "source", workspace, {})
    # As a product published before names were checked could: it fills other's table.
    catalog = sqlite3.connect(mesh.home / "catalog.db")
    with catalog:
        catalog.execute("UPDATE ports SET table_name = 'finance.other__other__v1'")
    catalog.close()

    [validation] = mesh.validate(second)
    [refused] = mesh.publish(second)

    [issue] = validation.issues
    assert issue.field == "outputPorts[0].name"
    assert "finance.other__other__v1" in issue.message
    assert "finance.targets (port targets)" in issue.message
    assert refused.outcome == Outcome.FAILED
    assert [p.id for p in mesh.products()] == ["finance.targets"]


@pytest.mark.parametrize("name", ["x_", "a_b", "ab12"])
def test_single_underscores_are_fine(name: str) -> None:
    assert new_name_problem(name, "port name") is None


def test_a_copy_that_names_another_owner_cannot_take_a_product_over(
    mesh: Mesh, workspace: Path
) -> None:
    original = scaffold("finance/targets", "source", workspace, {})
    [publication] = mesh.publish(original)
    assert publication.outcome == Outcome.PASSED
    copy = workspace / "elsewhere" / "targets"
    shutil.copytree(original, copy)
    rename(copy, "name: finance-team", "name: mallory-team")
    original.rename(workspace / "finance" / "moved")  # the published folder is gone

    [validation] = mesh.validate(copy)
    [refused] = mesh.publish(copy)

    assert any("owned by finance-team" in issue.message for issue in validation.issues)
    assert refused.outcome == Outcome.FAILED
    assert mesh.product("finance.targets").owner == "finance-team"


def test_a_moved_checkout_with_the_same_owner_publishes_on(mesh: Mesh, workspace: Path) -> None:
    original = scaffold("finance/targets", "source", workspace, {})
    mesh.publish(original)
    moved = workspace / "checkout-2" / "targets"
    moved.parent.mkdir()
    original.rename(moved)

    [publication] = mesh.publish(moved)

    assert publication.outcome == Outcome.PASSED, publication.reason
    assert publication.version == 2
