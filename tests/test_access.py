"""Access owned by domains: requests, decisions, grants, and every read path enforcing them.

Real meshes (DuckDB, Iceberg, SQLite) in temporary folders; users are names, as locally
(QUANTA_USER): the tests act as several of them through ``actor=``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from conftest import TESTER
from quanta.errors import AccessDenied, NotFound, UserError
from quanta.mesh import Mesh
from quanta.model.access import RequestState
from quanta.model.actor import Actor, ActorKind
from quanta.model.result import Outcome
from quanta.scaffold import scaffold
from quanta.stores import schema

OWNER = Actor(name=TESTER)
ANA = Actor(name="ana@finance.example")
BEN = Actor(name="ben@elsewhere.example")
PURPOSE = "forecast next quarter's targets"


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def targets(mesh: Mesh, workspace: Path) -> Path:
    """finance.targets published, owned by the tester (its scaffold's one member)."""
    folder = scaffold("finance/targets", "source", workspace, {})
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.PASSED, publication.reason
    return folder


def add_access(folder: Path, value: str) -> None:
    """Give the product the ``access`` custom property ``value`` (YAML flow style)."""
    replace(
        folder / "dataproduct.yaml",
        "\ncustomProperties:\n",
        f"\ncustomProperties:\n- property: access\n  value: {value}\n",
    )


def kinds(mesh: Mesh, product: str) -> list[str]:
    return [
        event.kind
        for event in mesh.stores.events.events(subject=product)
        if event.kind.startswith("access.")
    ]


# -- reading ------------------------------------------------------------------------------
def test_a_reader_without_a_grant_is_told_the_owner_and_how_to_ask(
    mesh: Mesh, targets: Path
) -> None:
    with pytest.raises(AccessDenied) as denied:
        mesh.query("SELECT count(*) AS n FROM finance.targets", actor=ANA)
    message = str(denied.value)
    assert "finance.targets.targets" in message
    assert "team finance-team" in message
    assert TESTER in message
    assert 'quanta access request finance.targets.targets --purpose "..."' in message
    with pytest.raises(AccessDenied):
        mesh.read("finance.targets", actor=ANA)


def test_owners_read_their_own_products(mesh: Mesh, targets: Path) -> None:
    assert mesh.query("SELECT count(*) AS n FROM finance.targets").column("n")[0].as_py() == 3
    assert mesh.read("finance.targets", actor=OWNER).num_rows == 3


def test_request_inbox_approve_then_read(mesh: Mesh, targets: Path) -> None:
    asked = mesh.request_access("finance.targets", PURPOSE, days=30, actor=ANA)
    assert asked.state == RequestState.PENDING
    assert asked.consumer == ANA.name
    assert asked.requested_by == ANA.name
    assert [r.id for r in mesh.access_inbox(actor=OWNER)] == [asked.id]
    assert mesh.access_inbox(actor=ANA) == []  # not hers to decide

    approved = mesh.approve_access(asked.id, "for the Q3 forecast", actor=OWNER)

    assert approved.state == RequestState.APPROVED
    assert approved.decided_by == TESTER
    assert approved.expires_at is not None
    assert timedelta(days=29) < approved.expires_at - datetime.now(UTC) <= timedelta(days=30)
    assert mesh.query("SELECT count(*) AS n FROM finance.targets", actor=ANA).num_rows == 1
    assert mesh.read("finance.targets", actor=ANA).num_rows == 3
    assert mesh.access_inbox(actor=OWNER) == []
    assert kinds(mesh, "finance.targets") == ["access.requested", "access.approved"]


def test_a_grant_of_some_columns_shows_only_those(mesh: Mesh, targets: Path) -> None:
    asked = mesh.request_access(
        "finance.targets.targets", PURPOSE, columns=["id", "amount"], actor=ANA
    )
    mesh.approve_access(asked.id, actor=OWNER)

    assert mesh.read("finance.targets", actor=ANA).column_names == ["id", "amount"]
    assert mesh.query("SELECT * FROM finance.targets", actor=ANA).column_names == ["id", "amount"]
    with pytest.raises(UserError):
        mesh.query("SELECT name FROM finance.targets", actor=ANA)


def test_only_the_owning_team_decides_and_nothing_changes_otherwise(
    mesh: Mesh, targets: Path
) -> None:
    asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    for actor in (ANA, BEN):
        with pytest.raises(AccessDenied, match="only the members of team finance-team"):
            mesh.approve_access(asked.id, actor=actor)
    assert mesh.access_requests(product="finance.targets")[0].state == RequestState.PENDING
    assert kinds(mesh, "finance.targets") == ["access.requested"]


def test_a_denied_request_grants_nothing_and_cannot_be_decided_again(
    mesh: Mesh, targets: Path
) -> None:
    asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    denied = mesh.deny_access(asked.id, "ask for the aggregate instead", actor=OWNER)
    assert denied.state == RequestState.DENIED
    assert denied.note == "ask for the aggregate instead"
    with pytest.raises(AccessDenied):
        mesh.read("finance.targets", actor=ANA)
    with pytest.raises(UserError, match=f"request {asked.id} is denied by {TESTER}"):
        mesh.approve_access(asked.id, actor=OWNER)


def test_revoking_ends_the_grant_at_once(mesh: Mesh, targets: Path) -> None:
    asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    mesh.approve_access(asked.id, actor=OWNER)
    assert mesh.read("finance.targets", actor=ANA).num_rows == 3

    revoked = mesh.revoke_access(asked.id, "the forecast is done", actor=OWNER)

    assert revoked.state == RequestState.REVOKED
    assert revoked.closed_by == TESTER
    with pytest.raises(AccessDenied):
        mesh.read("finance.targets", actor=ANA)
    with pytest.raises(UserError, match="there is no grant to revoke"):
        mesh.revoke_access(asked.id, actor=OWNER)
    assert kinds(mesh, "finance.targets")[-1] == "access.revoked"


def test_an_expired_grant_reads_nothing_and_its_expiry_is_kept(mesh: Mesh, targets: Path) -> None:
    asked = mesh.request_access("finance.targets", PURPOSE, days=1, actor=ANA)
    mesh.approve_access(asked.id, actor=OWNER)
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    with mesh.stores.database.engine.begin() as connection:
        connection.execute(
            update(schema.access_requests)
            .where(schema.access_requests.c.id == asked.id)
            .values(expires_at=past)
        )

    with pytest.raises(AccessDenied, match=f"its grant {asked.id} expired on"):
        mesh.read("finance.targets", actor=ANA)
    [kept] = mesh.access_requests(product="finance.targets")
    assert kept.state == RequestState.EXPIRED
    assert kept.closed_by == "expiry"
    assert kinds(mesh, "finance.targets") == [
        "access.requested",
        "access.approved",
        "access.expired",
    ]


@pytest.mark.parametrize(
    ("target", "purpose", "options", "error", "message"),
    [
        ("finance.nothing", PURPOSE, {}, NotFound, "there is no published product"),
        ("finance.targets.nope", PURPOSE, {}, NotFound, "has no output port 'nope'"),
        ("finance", PURPOSE, {}, UserError, "write domain.product"),
        ("finance.targets", "data", {}, UserError, "--purpose is not valid"),
        ("finance.targets", "a\x1b[31m purpose", {}, UserError, "without control characters"),
        ("finance.targets", PURPOSE, {"days": 0}, UserError, "--days must be between 1"),
        ("finance.targets", PURPOSE, {"days": 9999}, UserError, "--days must be between 1"),
        ("finance.targets", PURPOSE, {"columns": ["secret"]}, UserError, "no column 'secret'"),
        ("finance.targets", PURPOSE, {"for_product": "x"}, UserError, "is not a product id"),
    ],
)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    mesh: Mesh,
    targets: Path,
    target: str,
    purpose: str,
    options: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        mesh.request_access(target, purpose, actor=ANA, **options)  # type: ignore[arg-type]
    assert mesh.access_requests() == []
    assert kinds(mesh, "finance.targets") == []


def test_a_second_request_while_one_waits_is_refused(mesh: Mesh, targets: Path) -> None:
    asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    with pytest.raises(UserError, match=f"request {asked.id} for finance.targets is already"):
        mesh.request_access("finance.targets", PURPOSE, actor=ANA)


def test_the_anonymous_identity_reads_only_public_ports(mesh: Mesh, targets: Path) -> None:
    anonymous = Actor(name="anonymous")
    with pytest.raises(AccessDenied, match="anonymous identity reads only public ports"):
        mesh.read("finance.targets", actor=anonymous)
    with pytest.raises(AccessDenied, match="cannot ask for access"):
        mesh.request_access("finance.targets", PURPOSE, actor=anonymous)

    add_access(targets, "{public: true}")
    [publication] = mesh.publish(targets)
    assert publication.outcome == Outcome.PASSED, publication.validation.issues
    assert mesh.read("finance.targets", actor=anonymous).num_rows == 3


def test_a_port_with_pii_cannot_be_public(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    add_access(folder, "{public: [targets]}")
    replace(
        folder / "contracts" / "targets.odcs.yaml",
        "classification: internal",
        "classification: pii",
    )
    [validation] = mesh.validate(folder)
    assert any("cannot be public" in issue.message for issue in validation.issues)


def test_auto_approval_rules_approve_what_they_allow_only(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    add_access(folder, "{autoApprove: [{purposes: [Quarterly planning], maxDays: 30}]}")
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.PASSED, publication.validation.issues

    quick = mesh.request_access("finance.targets", "quarterly planning", days=30, actor=ANA)
    slow = mesh.request_access("finance.targets", "quarterly planning", days=60, actor=BEN)

    assert quick.state == RequestState.APPROVED
    assert quick.decided_by == "auto-approval rule 1 of finance.targets"
    assert slow.state == RequestState.PENDING
    assert mesh.read("finance.targets", actor=ANA).num_rows == 3


def test_a_rule_without_pii_does_not_approve_a_request_for_pii(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    add_access(folder, "{autoApprove: [{withoutPii: true}]}")
    contract = folder / "contracts" / "targets.odcs.yaml"
    text = contract.read_text(encoding="utf-8")
    name_at = text.index("name: name")
    at = text.index("classification: internal", name_at)
    contract.write_text(text[:at] + "classification: pii" + text[at + 24 :], encoding="utf-8")
    mesh.publish(folder)

    everything = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
    some = mesh.request_access("finance.targets.targets", PURPOSE, columns=["id"], actor=BEN)

    assert everything.state == RequestState.PENDING
    assert some.state == RequestState.APPROVED


def test_the_bad_access_property_is_an_issue_at_its_field(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    add_access(folder, "{autoApprove: [{sameDomian: true}]}")
    [validation] = mesh.validate(folder)
    [issue] = validation.issues
    assert "autoApprove" in issue.field
    assert "sameDomian" in issue.field
    assert issue.line is not None


# -- builds of other products -------------------------------------------------------------
def test_a_build_reading_an_ungranted_product_fails_at_validate(
    mesh: Mesh, targets: Path, workspace: Path
) -> None:
    other = Actor(name="ana@sales.example")
    report = scaffold("sales/report", "source", workspace, {}, owner=other.name)
    _read_targets(report)

    [publication] = mesh.publish(report, actor=other)

    assert publication.outcome == Outcome.FAILED
    [issue] = publication.validation.issues
    assert issue.field == "inputPorts[0].contractId"
    assert "product sales.report may not read finance.targets.targets" in issue.message
    assert "team finance-team" in issue.message
    assert "quanta access request finance.targets.targets --for sales.report" in issue.message
    assert mesh.product("finance.targets").current_version == 1
    with pytest.raises(NotFound):
        mesh.product("sales.report")

    asked = mesh.request_access("finance.targets", PURPOSE, for_product="sales.report", actor=other)
    mesh.approve_access(asked.id, actor=OWNER)
    [publication] = mesh.publish(report, actor=other)
    assert publication.outcome == Outcome.PASSED, publication.validation.issues

    mesh.revoke_access(asked.id, actor=OWNER)
    [again] = mesh.publish(report, actor=other)
    assert again.outcome == Outcome.FAILED
    assert "may not read finance.targets" in again.validation.issues[0].message


def test_a_product_of_the_same_team_reads_without_a_grant(
    mesh: Mesh, targets: Path, workspace: Path
) -> None:
    report = scaffold("finance/report", "source", workspace, {})
    _read_targets(report)
    replace(report / "dataproduct.yaml", "name: finance-team", "name: finance-team")
    [publication] = mesh.publish(report)
    assert publication.outcome == Outcome.PASSED, publication.validation.issues


def test_only_asking_for_a_product_of_ones_own_team(
    mesh: Mesh, targets: Path, workspace: Path
) -> None:
    other = Actor(name="ana@sales.example")
    report = scaffold("sales/report", "source", workspace, {}, owner=other.name)
    mesh.publish(report, actor=other)
    with pytest.raises(AccessDenied, match="only the members of team sales-team"):
        mesh.request_access("finance.targets", PURPOSE, for_product="sales.report", actor=BEN)


def _read_targets(folder: Path) -> None:
    replace(
        folder / "dataproduct.yaml",
        "inputPorts:\n",
        "inputPorts:\n- name: targets\n  version: '1'\n  contractId: finance.targets\n",
    )
    (folder / "transform.sql").write_text(
        "SELECT t.id, t.name, t.category, t.amount, t.updated_at\n"
        "FROM raw_items AS r JOIN targets AS t ON r.id = t.id\n",
        encoding="utf-8",
    )


# -- who publishes ------------------------------------------------------------------------
def test_only_the_owning_team_publishes_its_product(
    mesh: Mesh, targets: Path, tmp_path: Path
) -> None:
    [publication] = mesh.publish(targets, actor=BEN)
    assert publication.outcome == Outcome.FAILED
    assert "owned by team finance-team" in publication.validation.issues[0].message
    assert mesh.product("finance.targets").current_version == 1


def test_a_publisher_cannot_give_a_product_to_a_team_it_is_not_in(
    mesh: Mesh, targets: Path, workspace: Path
) -> None:
    """Claiming finance-team's name in a new product would make its members owners."""
    plan = scaffold("planning/plan", "source", workspace, {}, owner=BEN.name)
    replace(plan / "dataproduct.yaml", "name: planning-team", "name: finance-team")
    [publication] = mesh.publish(plan, actor=BEN)
    assert publication.outcome == Outcome.FAILED
    assert "not a member of team finance-team" in publication.validation.issues[0].message


def test_a_domain_belongs_to_its_teams(mesh: Mesh, targets: Path, workspace: Path) -> None:
    squat = scaffold("finance/squat", "source", workspace, {}, owner=BEN.name)
    replace(squat / "dataproduct.yaml", "name: finance-team", "name: squatters")
    [publication] = mesh.publish(squat, actor=BEN)
    assert publication.outcome == Outcome.FAILED
    assert "domain finance belongs to other teams" in publication.validation.issues[0].message


# -- teams file and governance ------------------------------------------------------------
def test_the_governance_group_decides_where_the_mesh_allows_it(
    tmp_path: Path, workspace: Path
) -> None:
    teams = tmp_path / "teams.yaml"
    teams.write_text(
        "teams:\n  - name: governance\n    members: [gwen@gov.example]\n"
        "governance: {team: governance, decidesAccess: true}\n",
        encoding="utf-8",
    )
    with Mesh.open(tmp_path / "home", teams_file=teams) as mesh:
        mesh.publish(scaffold("finance/targets", "source", workspace, {}))
        asked = mesh.request_access("finance.targets", PURPOSE, actor=ANA)
        gwen = Actor(name="gwen@gov.example")
        assert [r.id for r in mesh.access_inbox(actor=gwen)] == [asked.id]
        assert mesh.approve_access(asked.id, actor=gwen).decided_by == gwen.name
        with pytest.raises(AccessDenied):
            mesh.read("finance.targets", actor=gwen)  # deciding is not reading


def test_a_broken_teams_file_is_a_clear_error(tmp_path: Path) -> None:
    teams = tmp_path / "teams.yaml"
    teams.write_text("governance: {team: nobody}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"teams.yaml \(governance.team\): 'nobody' is not a team"):
        Mesh.open(tmp_path / "home", teams_file=teams)


def test_a_service_principal_is_named_in_the_teams_file(tmp_path: Path) -> None:
    teams = tmp_path / "teams.yaml"
    teams.write_text(
        "teams: [{name: bi, members: [ana@bi.example]}]\n"
        "services: [{name: dashboards, team: bi}]\n",
        encoding="utf-8",
    )
    with Mesh.open(tmp_path / "home", teams_file=teams, user="dashboards") as mesh:
        assert mesh.actor.kind == ActorKind.SERVICE


# -- the example mesh and the command line ------------------------------------------------
def test_the_example_mesh_reads_other_domains_through_approved_grants(demo: Mesh) -> None:
    grants = demo.access_requests(consumer="marketing.attribution")
    by_target = {g.target: g for g in grants if g.state == RequestState.APPROVED}
    assert set(by_target) == {"checkout.orders", "web.sessions", "customer.identity_map.sessions"}
    assert by_target["customer.identity_map.sessions"].decided_by == "samir.haddad@retail.example"
    assert by_target["checkout.orders"].decided_by == "auto-approval rule 1 of checkout.orders"
    with pytest.raises(AccessDenied):
        demo.read("customer.profiles", actor=Actor(name="tom.greene@retail.example"))


def _quanta(*args: str, home: Path, user: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "QUANTA_HOME": str(home), "QUANTA_USER": user}
    return subprocess.run(
        [sys.executable, "-m", "quanta", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_request_approve_query_flow_on_the_command_line(mesh: Mesh, targets: Path) -> None:
    home = mesh.home
    denied = _quanta("query", "SELECT count(*) FROM finance.targets", home=home, user=ANA.name)
    assert denied.returncode == 2
    assert "quanta access request finance.targets.targets" in denied.stdout + denied.stderr
    assert "Traceback" not in denied.stderr

    asked = _quanta(
        "access",
        "request",
        "finance.targets",
        "--purpose",
        PURPOSE,
        "--json",
        home=home,
        user=ANA.name,
    )
    assert asked.returncode == 0, asked.stderr
    request_id = json.loads(asked.stdout)["id"]
    inbox = _quanta("access", "inbox", "--json", home=home, user=TESTER)
    assert [item["id"] for item in json.loads(inbox.stdout)] == [request_id]
    outsider = _quanta("access", "approve", str(request_id), home=home, user=ANA.name)
    assert outsider.returncode == 2
    assert "only the members of team" in outsider.stderr
    approved = _quanta("access", "approve", str(request_id), "--note", "ok", home=home, user=TESTER)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert f"Request {request_id} approved" in approved.stdout

    read = _quanta(
        "query", "SELECT count(*) AS n FROM finance.targets", "--json", home=home, user=ANA.name
    )
    assert json.loads(read.stdout) == [{"n": 3}]
    listed = _quanta("access", "list", "finance.targets", "--json", home=home, user=ANA.name)
    [grant_shown] = json.loads(listed.stdout)
    assert grant_shown["state"] == "approved"
    assert grant_shown["decided_by"] == TESTER


# -- the identity from the settings file --------------------------------------------------
def test_the_identity_comes_from_the_settings_file_unless_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('user = "ana@finance.example"\n', encoding="utf-8")
    monkeypatch.setenv("QUANTA_CONFIG", str(config))
    monkeypatch.delenv("QUANTA_USER")
    with Mesh.open(tmp_path / "home") as mesh:
        assert mesh.actor.name == "ana@finance.example"
    monkeypatch.setenv("QUANTA_USER", "ben@elsewhere.example")
    with Mesh.open(tmp_path / "home") as mesh:
        assert mesh.actor.name == "ben@elsewhere.example"


def test_a_wrong_settings_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.toml"
    monkeypatch.setenv("QUANTA_CONFIG", str(config))
    config.write_text('usr = "ana"\n', encoding="utf-8")
    with pytest.raises(UserError, match="has no setting 'usr': did you mean 'user'"):
        Mesh.open(tmp_path / "home")
    config.write_text("user = \n", encoding="utf-8")
    with pytest.raises(UserError, match="is not valid TOML"):
        Mesh.open(tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_a_name_with_control_characters_is_no_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTA_USER", "ana\nRequest 1 approved")
    with pytest.raises(UserError, match="QUANTA_USER is not a valid identity"):
        Mesh.open(tmp_path / "home")
