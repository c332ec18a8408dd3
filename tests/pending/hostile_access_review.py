"""Hostile review of access control: each test asserts the secure behaviour and fails today.

Run with: .venv/bin/pytest tests/pending/hostile_access_review.py
(Not collected by ``make test``.) Every test here is one hole; its docstring is the attack.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest's helpers

from conftest import TESTER
from quanta.errors import AccessDenied, UserError
from quanta.mesh import Mesh
from quanta.model.access import RequestState
from quanta.model.actor import Actor
from quanta.model.result import Outcome
from quanta.scaffold import scaffold

OWNER = Actor(name=TESTER)
ANA = Actor(name="ana@sales.example")
MAL = Actor(name="mallory@evil.example")
PURPOSE = "forecast next quarter's targets"
NAMES = ("First item", "Second item", "Third item")


@pytest.fixture(autouse=True)
def _identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTA_USER", TESTER)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def add_access(folder: Path, value: str) -> None:
    replace(
        folder / "dataproduct.yaml",
        "\ncustomProperties:\n",
        f"\ncustomProperties:\n- property: access\n  value: {value}\n",
    )


def classify(product: Path, column: str, level: str) -> None:
    contract = product / "contracts" / "targets.odcs.yaml"
    text = contract.read_text(encoding="utf-8")
    block = re.compile(rf"(  - name: {column}\n(?:    .*\n)*?    classification: )\w+")
    assert block.search(text), column
    contract.write_text(block.sub(rf"\g<1>{level}", text, count=1), encoding="utf-8")


def add_sql_rule(product: Path, query: str, contract: str = "targets") -> None:
    path = product / "contracts" / f"{contract}.odcs.yaml"
    quoted = query.replace("'", "''")
    rule = f"  - type: sql\n    query: '{quoted}'\n    mustBe: 0\n    severity: warning\n"
    replace(path, "  properties:\n", f"  quality:\n{rule}  properties:\n")


def read_targets(
    folder: Path, columns: str = "t.id, t.name, t.category, t.amount, t.updated_at"
) -> None:
    replace(
        folder / "dataproduct.yaml",
        "inputPorts:\n",
        "inputPorts:\n- name: targets\n  version: '1'\n  contractId: finance.targets\n",
    )
    (folder / "transform.sql").write_text(
        f"SELECT {columns}\nFROM raw_items AS r JOIN targets AS t ON r.id = t.id\n",
        encoding="utf-8",
    )


def published(mesh: Mesh, folder: Path, actor: Actor = OWNER) -> None:
    [publication] = mesh.publish(folder, actor=actor)
    assert publication.outcome == Outcome.PASSED, (
        publication.reason,
        publication.validation.issues if publication.validation else None,
    )


@pytest.fixture
def targets(mesh: Mesh, workspace: Path) -> Path:
    """finance.targets, owned by the tester, holding the three NAMES."""
    folder = scaffold("finance/targets", "source", workspace, {})
    published(mesh, folder)
    return folder


def leaked(value: object) -> bool:
    text = repr(value)
    return any(name in text for name in NAMES) or "99.0" in text


# -- 1. a grant to a product id is inherited by whoever publishes that id ----------------


def test_check_folder_does_not_read_another_teams_dev_build(mesh: Mesh, workspace: Path) -> None:
    """lab.digest (not published) is built on dev by the lab team; Mallory copies its
    folder without its source data, names her own team (domain lab has no product yet) and
    `quanta check FOLDER` shows her the values of the lab team's dev build."""
    lab = Actor(name="lea@lab.example")
    digest = scaffold("lab/digest", "source", workspace / "lab", {}, owner=lab.name)
    [build] = mesh.build(digest, actor=lab)
    assert build.outcome.ok, build.reason

    copy = workspace / "mal" / "lab" / "digest"
    shutil.copytree(digest, copy)
    (copy / "data" / "items.csv").write_text(
        "id,name,category,amount,updated_at\n", encoding="utf-8"
    )  # she has no source data of her own: whatever she sees comes from the dev build
    replace(copy / "dataproduct.yaml", "name: lab-team", "name: mallory-team")
    replace(copy / "dataproduct.yaml", f"username: {lab.name}", f"username: {MAL.name}")
    add_sql_rule(copy, "SELECT max(name) FROM ${table}", contract="digest")

    try:
        runs = mesh.check(copy, actor=MAL)
    except Exception:
        return
    seen = [(c.observed, c.reason, c.samples) for r in runs for c in r.checks]
    assert not leaked(seen), [s for s in seen if leaked(s)]


# -- 6. governance approves its own request -------------------------------------------------
