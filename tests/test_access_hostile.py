"""What the hostile review of access control tried: each test is one attack (its
docstring) and asserts the secure behaviour. They failed before the fixes beside them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

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
def test_a_grant_for_an_unpublished_product_is_not_inherited_by_a_squatter(
    mesh: Mesh, targets: Path, workspace: Path
) -> None:
    """Ana gets finance.targets granted --for lab.report (not published yet, domain lab
    empty); Mallory publishes lab.report first, under her own team, and reads the data."""
    asked = mesh.request_access("finance.targets", PURPOSE, for_product="lab.report", actor=ANA)
    mesh.approve_access(asked.id, actor=OWNER)

    squat = scaffold("lab/report", "source", workspace / "mal", {}, owner=MAL.name)
    replace(squat / "dataproduct.yaml", "name: lab-team", "name: mallory-team")
    read_targets(squat)
    [publication] = mesh.publish(squat, actor=MAL)

    try:
        stolen = mesh.read("lab.report", actor=MAL).column("name").to_pylist()
    except Exception:
        stolen = []
    assert publication.outcome == Outcome.FAILED, f"Mallory read {stolen}"
    assert not set(stolen) & set(NAMES)


# -- 2. auto-approval without PII extends to PII classified later -------------------------
def test_a_grant_auto_approved_without_pii_does_not_cover_pii_classified_later(
    mesh: Mesh, workspace: Path
) -> None:
    """Ana's whole-port request is auto-approved by {withoutPii: true}; the owner later
    classifies `name` pii, and Ana's grant (columns: all) reads the PII without approval."""
    folder = scaffold("finance/targets", "source", workspace, {})
    add_access(folder, "{autoApprove: [{withoutPii: true}]}")
    published(mesh, folder)
    asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    assert asked.state == RequestState.APPROVED

    classify(folder, "name", "pii")
    published(mesh, folder)

    table = mesh.read("finance.targets", actor=ANA)
    assert "name" not in table.column_names or not set(table.column("name").to_pylist()) & set(
        NAMES
    ), "an auto-approved (no PII) grant read a PII column"


# -- 3. public rules of the current descriptor open old versions ---------------------------
def test_making_a_port_public_does_not_open_old_versions_with_pii(
    mesh: Mesh, workspace: Path
) -> None:
    """v1 classifies `name` pii; v2 drops `name` and makes the port public; the anonymous
    identity reads version=1 and gets the PII names."""
    folder = scaffold("finance/targets", "source", workspace, {})
    classify(folder, "name", "pii")
    published(mesh, folder)

    contract = folder / "contracts" / "targets.odcs.yaml"
    text = contract.read_text(encoding="utf-8")
    start = text.index("  - name: name\n")
    end = text.index("  - name: category\n")
    contract.write_text(
        (text[:start] + text[end:]).replace("version: 1.0.0", "version: 2.0.0"), encoding="utf-8"
    )
    replace(folder / "dataproduct.yaml", "version: 1.0.0", "version: 2.0.0")
    replace(folder / "transform.sql", "    name,\n", "")
    add_access(folder, "{public: true}")
    published(mesh, folder)

    anonymous = Actor(name="anonymous")
    assert mesh.read("finance.targets", actor=anonymous).num_rows == 3  # v2: public, fine
    try:
        old = mesh.read("finance.targets", version=1, actor=anonymous)
    except AccessDenied:
        return
    assert "name" not in old.column_names, "anonymous read PII of version 1"


# -- 4. observed values of SQL rules leak to readers without any grant --------------------
def test_show_and_check_give_no_observed_values_to_a_reader_without_a_grant(
    mesh: Mesh, workspace: Path
) -> None:
    """Mallory has no grant; `quanta show` (Mesh.describe) and `quanta check
    finance.targets` hand her the observed value (and reason text) of a SQL rule,
    `max(name)`, a data value."""
    folder = scaffold("finance/targets", "source", workspace, {})
    add_sql_rule(folder, "SELECT max(name) FROM ${table}")
    published(mesh, folder)
    with pytest.raises(AccessDenied):
        mesh.read("finance.targets", actor=MAL)

    view = mesh.describe("finance.targets", actor=MAL)
    shown = [(c.get("observed"), c.get("reason")) for c in view.current.checks]
    [run] = mesh.check("finance.targets", actor=MAL)
    checked = [(c.observed, c.reason) for c in run.checks]
    assert not leaked(shown), [s for s in shown if leaked(s)]
    assert not leaked(checked), [c for c in checked if leaked(c)]


# -- 5. check FOLDER reads another team's dev build -----------------------------------------


def test_a_governance_member_cannot_approve_their_own_request(
    tmp_path: Path, workspace: Path
) -> None:
    """Gwen (governance, decidesAccess: true) asks to read finance.targets and approves
    her own request, then reads it: "deciding is not reading" is one command away."""
    teams = tmp_path / "teams.yaml"
    teams.write_text(
        "teams:\n  - name: governance\n    members: [gwen@gov.example]\n"
        "governance: {team: governance, decidesAccess: true}\n",
        encoding="utf-8",
    )
    gwen = Actor(name="gwen@gov.example")
    with Mesh.open(tmp_path / "home", teams_file=teams) as mesh:
        published(mesh, scaffold("finance/targets", "source", workspace, {}))
        asked = mesh.request_access("finance.targets", PURPOSE, actor=gwen)
        with pytest.raises(AccessDenied):
            mesh.approve_access(asked.id, actor=gwen)
        with pytest.raises(AccessDenied):
            mesh.read("finance.targets", actor=gwen)


# -- 7. a long-lived Mesh keeps a removed member as owner -------------------------------------
def test_a_member_removed_from_the_teams_file_is_no_owner_in_a_long_lived_mesh(
    tmp_path: Path, workspace: Path
) -> None:
    """Mallory is removed from finance-team in teams.yaml; a Mesh opened before (a server,
    a notebook) still lets her read everything and approve requests."""
    teams = tmp_path / "teams.yaml"
    teams.write_text(
        f"teams:\n  - name: finance-team\n    members: [{TESTER}, {MAL.name}]\n",
        encoding="utf-8",
    )
    with Mesh.open(tmp_path / "home", teams_file=teams) as mesh:
        published(mesh, scaffold("finance/targets", "source", workspace, {}))
        assert mesh.read("finance.targets", actor=MAL).num_rows == 3
        teams.write_text(
            f"teams:\n  - name: finance-team\n    members: [{TESTER}]\n", encoding="utf-8"
        )
        with pytest.raises(AccessDenied):
            mesh.read("finance.targets", actor=MAL)


# -- 8. hostile text in notes and names -------------------------------------------------------
def test_a_note_with_control_characters_is_refused_and_changes_nothing(
    mesh: Mesh, targets: Path
) -> None:
    """The consumer ends her grant with a note holding terminal escapes (clear screen,
    forged lines), kept and shown to the owners in `quanta access list`."""
    asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    mesh.approve_access(asked.id, actor=OWNER)
    with pytest.raises(UserError):
        mesh.revoke_access(asked.id, "done\x1b[2J\x1b[H\nRequest 1 approved by ceo", actor=ANA)
    assert mesh.access_requests(product="finance.targets")[0].state == RequestState.APPROVED


def test_a_name_with_control_characters_cannot_ask_for_access(mesh: Mesh, targets: Path) -> None:
    """QUANTA_USER holding a newline and escapes files a request whose consumer forges
    lines in the owners' inbox and in every error message naming the reader."""
    with pytest.raises(ValueError, match="one line"):
        Actor(name="ana\n\x1b[32mRequest 9 approved by tester@quanta.example")
    assert mesh.access_requests() == []


# -- 9. a user named like a product ends the product's grant -------------------------------
def test_a_user_named_like_a_consuming_product_cannot_revoke_its_grant(
    mesh: Mesh, targets: Path, workspace: Path
) -> None:
    """QUANTA_USER=sales.report (a user, not the product nor its team) revokes the grant
    finance.targets gave the product sales.report: its next build fails."""
    report = scaffold("sales/report", "source", workspace / "sales", {}, owner=ANA.name)
    published(mesh, report, ANA)
    asked = mesh.request_access("finance.targets", PURPOSE, for_product="sales.report", actor=ANA)
    mesh.approve_access(asked.id, actor=OWNER)
    with pytest.raises(AccessDenied):
        mesh.revoke_access(asked.id, actor=Actor(name="sales.report"))


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
