"""Federated governance on real meshes: policies at validate and publish, protection by
classification in the one read path, inherited classification, and the audit log.

The retail example mesh is published once for this module (its own copy: tests here change
its governance folder and its grants, always putting them back).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from conftest import DEMO_SCALE, TESTER
from quanta.errors import ConfigError, UserError
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.result import Outcome
from quanta.scaffold import scaffold

SAMIR = Actor(name="samir.haddad@retail.example")  # owns customer.profiles
ANA = Actor(name="ana.lima@retail.example")  # finance's analyst
INES = Actor(name="ines.moreau@retail.example")  # the privacy officer: governance group
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    home = tmp_path_factory.mktemp("governed") / "home"
    with Mesh.open(home, user=TESTER) as opened:
        _, publications = opened.demo(scale=DEMO_SCALE)
        assert all(p.outcome.ok for p in publications), publications
        yield opened


def mapping(mesh: Mesh, **levels: str) -> None:
    """Change the retail governance folder's protections (the others as shipped)."""
    path = mesh.home / "governance" / "governance.yaml"
    document = yaml.safe_load(path.read_text())
    document["protections"].update(levels)
    path.write_text(yaml.safe_dump(document))


@pytest.fixture
def shipped_mapping(retail: Mesh) -> Iterator[None]:
    path = retail.home / "governance" / "governance.yaml"
    kept = path.read_text()
    yield
    path.write_text(kept)


def grant(mesh: Mesh, reader: Actor, purpose: str, pii: str | None, clear: bool) -> int:
    asked = mesh.request_access("customer.profiles", purpose, pii_reason=pii, actor=reader)
    mesh.approve_access(asked.id, actor=SAMIR, clear_pii=clear)
    return asked.id


def emails(mesh: Mesh, reader: Actor) -> list[object]:
    table = mesh.query(
        "SELECT email FROM customer.profiles ORDER BY customer_id LIMIT 3", actor=reader
    )
    return table.column("email").to_pylist()


# -- protection by classification -------------------------------------------------------


def test_the_same_query_answers_each_reader_as_its_grant_allows(
    retail: Mesh, shipped_mapping: None
) -> None:
    clear = emails(retail, SAMIR)
    assert all("@" in str(value) for value in clear)  # the owner reads them as stored
    grant(retail, ANA, "Count customers per country", None, clear=False)
    pseudonyms = emails(retail, ANA)
    assert all(uuid.UUID(str(value)) for value in pseudonyms)  # 128 bits of HMAC
    assert len(set(pseudonyms)) == 3
    # A reader approved for PII in clear, for a purpose the governance folder allows.
    grant(retail, INES, "Customer service", "answer a customer's own data request", clear=True)
    assert emails(retail, INES) == clear
    # The stored pseudonyms join: the same value has one pseudonym across the mesh.
    joined = retail.query(
        "SELECT count(*) AS n FROM customer.profiles a JOIN customer.profiles b "
        "ON a.email = b.email",
        actor=ANA,
    )
    assert (
        joined.column("n")[0].as_py()
        == retail.query("SELECT count(*) AS n FROM customer.profiles", actor=ANA)
        .column("n")[0]
        .as_py()
    )


def test_changing_the_mapping_protects_every_product_at_the_next_read(
    retail: Mesh, shipped_mapping: None
) -> None:
    if not retail.access_requests(product="customer.profiles", consumer=ANA.name):
        grant(retail, ANA, "Count customers per country", None, clear=False)
    mapping(retail, pii="mask")
    assert emails(retail, ANA) == [None, None, None]
    assert all("@" in str(value) for value in emails(retail, SAMIR))  # owners: in clear
    mapping(retail, pii="clear")
    assert all("@" in str(value) for value in emails(retail, ANA))
    mapping(retail, pii="pseudonymize")
    assert all("@" not in str(value) for value in emails(retail, ANA))
    changes = retail.context.governance.audit.entries(kind="governance.changed")
    assert [entry.details["protections"]["pii"] for entry in changes][-3:] == [
        "mask",
        "clear",
        "pseudonymize",
    ]


def test_a_grant_covers_pii_in_clear_only_when_asked_and_approved_so(retail: Mesh) -> None:
    with pytest.raises(UserError, match="only for the purposes"):
        retail.request_access(
            "customer.profiles", "Marketing campaigns", pii_reason="send the newsletter", actor=ANA
        )
    asked = retail.request_access(
        "customer.profiles", "Count customers per day of birth", actor=Actor(name="x@y.example")
    )
    with pytest.raises(UserError, match="did not ask for PII in clear"):
        retail.approve_access(asked.id, actor=SAMIR, clear_pii=True)
    approved = retail.approve_access(asked.id, actor=SAMIR)
    assert not approved.clear_pii


def test_a_product_built_from_pii_inherits_its_classification(retail: Mesh, tmp_path: Path) -> None:
    """customer.contacts copies profiles' email, declared internal: it is stored and
    served as pii, pseudonym included, and joins with profiles on pseudonyms."""
    folder = _contacts(retail, tmp_path)
    [published] = retail.publish(folder, actor=SAMIR)
    assert published.outcome == Outcome.PASSED, published.reason
    port = retail.product("customer.contacts")
    assert port is not None
    version = retail.stores.catalog.version("customer.contacts")
    assert version is not None
    [email] = [c for c in version.ports[0].columns if c.name == "email"]
    assert email.classification == "pii"
    assert email.pseudonym
    if not retail.access_requests(product="customer.profiles", consumer=ANA.name):
        grant(retail, ANA, "Count customers per country", None, clear=False)
    asked = retail.request_access("customer.contacts", "Match contacts", actor=ANA)
    retail.approve_access(asked.id, actor=SAMIR)
    matched = retail.query(
        "SELECT count(*) AS n FROM customer.contacts c JOIN customer.profiles p "
        "ON c.email = p.email",
        actor=ANA,
    )
    assert matched.column("n")[0].as_py() > 0
    shown = retail.query("SELECT email FROM customer.contacts LIMIT 1", actor=ANA)
    assert "@" not in str(shown.column("email")[0].as_py())


def _contacts(mesh: Mesh, workspace: Path) -> Path:
    folder = workspace / "customer" / "contacts"
    (folder / "contracts").mkdir(parents=True)
    (folder / "transform.sql").write_text("SELECT customer_id, email FROM profiles\n")
    (folder / "dataproduct.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1.0.0",
                "kind": "DataProduct",
                "id": "customer.contacts",
                "domain": "customer",
                "status": "active",
                "description": {"purpose": "How to reach each customer."},
                "tags": ["aggregate"],
                "team": {
                    "name": "customer-team",
                    "members": [{"username": SAMIR.name, "role": "owner"}],
                },
                "inputPorts": [
                    {"name": "profiles", "version": "1", "contractId": "customer.profiles"}
                ],
                "outputPorts": [
                    {
                        "name": "contacts",
                        "version": "1.0.0",
                        "contractId": "customer.contacts.contacts",
                    }
                ],
                "customProperties": [
                    {
                        "property": "transformation",
                        "value": {"language": "sql", "path": "transform.sql"},
                    }
                ],
            }
        )
    )
    (folder / "contracts" / "contacts.odcs.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v3.1.0",
                "kind": "DataContract",
                "id": "customer.contacts.contacts",
                "version": "1.0.0",
                "status": "active",
                "schema": [
                    {
                        "name": "contacts",
                        "properties": [
                            {
                                "name": "customer_id",
                                "logicalType": "string",
                                "physicalType": "VARCHAR",
                                "classification": "internal",
                            },
                            {
                                "name": "email",
                                "logicalType": "string",
                                "physicalType": "VARCHAR",
                                "classification": "internal",  # inherits pii
                            },
                        ],
                    }
                ],
                "slaProperties": [{"property": "retention", "value": 1, "unit": "y"}],
            }
        )
    )
    return folder


def test_no_protected_value_is_stored_outside_the_data_files(retail: Mesh) -> None:
    """Manifests, metadata, the catalog, the search index, logs and the audit log hold no
    email or name of customer.profiles: only its data files do."""
    owner_view = retail.query("SELECT email, full_name FROM customer.profiles", actor=SAMIR)
    secrets = {
        value.encode()
        for name in ("email", "full_name")
        for value in owner_view.column(name).to_pylist()
        if value
    }
    assert secrets
    version = retail.stores.catalog.version("customer.profiles")
    assert version is not None
    data_files = {Path(f.removeprefix("file://")).resolve() for f in version.ports[0].files or []}
    found = []
    for path in retail.home.rglob("*"):
        if not path.is_file() or path.resolve() in data_files or "examples" in path.parts:
            continue
        if path.suffix == ".parquet" and {"profiles__profiles__v1", "contacts__contacts__v1"} & set(
            path.parts
        ):
            continue  # data files of the tables that hold these columns (contacts: a copy)
        content = path.read_bytes()
        found += [str(path) for secret in secrets if secret in content]
    assert not found, sorted(set(found))[:5]


# -- policies ---------------------------------------------------------------------------


def test_the_scaffolds_pass_every_default_policy(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    [validation] = mesh.validate(folder)
    assert validation.findings == []
    assert validation.outcome == Outcome.PASSED
    [published] = mesh.publish(folder)
    assert published.outcome == Outcome.PASSED, published.reason
    version = mesh.stores.catalog.version("finance.targets")
    assert version is not None
    upstream = {"finance.targets": version.ports[0]}
    for blueprint in ("aggregate", "consumer"):
        made = scaffold(f"finance/{blueprint}_report", blueprint, workspace, upstream)
        [validation] = mesh.validate(made)
        assert validation.findings == [], (blueprint, validation.findings)


def test_an_enforced_block_policy_stops_the_publish_with_its_fix(
    mesh: Mesh, workspace: Path
) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    contract = folder / "contracts" / "targets.odcs.yaml"
    contract.write_text(contract.read_text().replace("    classification: public\n", ""))
    [validation] = mesh.validate(folder)
    assert validation.outcome == Outcome.FAILED
    [blocked] = validation.blocked
    assert blocked.policy == "columns-classified"
    assert blocked.failing == ("column targets.category",)
    [published] = mesh.publish(folder)
    assert published.outcome == Outcome.FAILED
    assert "columns-classified" in published.reason
    assert "classification:" in published.reason
    assert mesh.products() == []  # nothing registered
    [evaluated] = mesh.context.governance.audit.entries(kind="policy.evaluated")
    assert evaluated.details["blocked"] == ["columns-classified"]
    [violated] = mesh.events(kinds=["policy.violated"])
    assert violated.subject == "finance.targets"
    assert violated.payload["policy"] == "columns-classified"
    assert violated.payload["blocks"] is True
    assert violated.payload["failing"] == ["column targets.category"]
    cli = subprocess.run(
        [sys.executable, "-m", "quanta", "validate", str(folder), "--home", str(mesh.home)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1
    assert "Traceback" not in cli.stderr
    assert "columns-classified" in cli.stdout


def _policy(folder: Path, **rollout: object) -> None:
    (folder / "policies").mkdir(parents=True, exist_ok=True)
    (folder / "policies" / "mesh.yaml").write_text(
        yaml.safe_dump(
            {
                "policies": [
                    {
                        "id": "two-owners",
                        "title": "Every product has a second owner",
                        "rationale": "Someone approves access while the other is away.",
                        "severity": "block",
                        "rollout": rollout,
                        "condition": "size(product.members) >= 2",
                        "fix": "list a second member under team.members",
                    }
                ]
            },
            sort_keys=False,
        )
    )


def test_grace_warns_with_its_day_then_blocks_and_a_draft_is_for_governance_only(
    tmp_path: Path, workspace: Path
) -> None:
    rules = tmp_path / "governance"
    folder = scaffold("finance/targets", "source", workspace, {})
    with Mesh.open(tmp_path / "home", governance=rules) as mesh:
        later = (datetime.now(UTC) + timedelta(days=30)).date()
        _policy(rules, state="grace", until=later.isoformat())
        [validation] = mesh.validate(folder)
        [warned] = validation.findings
        assert warned.warns
        assert warned.until == later
        assert validation.outcome == Outcome.WARNED
        [published] = mesh.publish(folder)
        assert published.outcome == Outcome.PASSED
        _policy(rules, state="grace", until=(later - timedelta(days=60)).isoformat())
        [validation] = mesh.validate(folder)
        assert [f.policy for f in validation.blocked] == ["two-owners"]
        _policy(rules, state="draft")
        [validation] = mesh.validate(folder)
        assert validation.findings == []
        compliance, drafts = mesh.governance_report()
        assert not drafts
        assert all(f.policy != "two-owners" for f in compliance.findings)


def test_a_policy_that_does_not_compile_names_its_file_and_line(
    tmp_path: Path, workspace: Path
) -> None:
    rules = tmp_path / "governance"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "bad.yaml").write_text(
        "policies:\n  - id: broken\n    title: t\n    rationale: r\n    fix: f\n"
        "    condition: product.owner + 1\n"
    )
    folder = scaffold("finance/targets", "source", workspace, {})
    with (
        Mesh.open(tmp_path / "home", governance=rules) as mesh,
        pytest.raises(ConfigError, match=r"bad\.yaml:2"),
    ):
        mesh.validate(folder)


# -- the report and the audit log --------------------------------------------------------


def test_the_report_of_the_example_mesh_matches_its_golden_file(retail: Mesh) -> None:
    from quanta.governance.report import to_json

    compliance, drafts = retail.governance_report(actor=INES)
    assert drafts  # the privacy officer is of the governance group
    found = to_json(compliance, drafts=drafts)
    decisions = sorted(
        [f["product"], f["policy"], f["standing"], list(f["failing"])]
        for f in found["findings"]
        if f["product"] != "customer.contacts"  # published by another test of this module
    )
    assert decisions == json.loads((GOLDEN / "governance_findings.json").read_text())
    _, for_a_team = retail.governance_report(actor=ANA)
    assert not for_a_team


def test_the_report_cli_writes_json_and_a_page_with_no_server(retail: Mesh, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "quanta",
            "governance",
            "report",
            "--json",
            "--html",
            str(page),
            "--home",
            str(retail.home),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert {"day", "policies", "findings", "summary"} <= set(json.loads(run.stdout))
    text = page.read_text()
    assert "customer.profiles" in text
    assert "http://" not in text
    assert "https://" not in text


def test_access_decisions_and_protected_reads_are_in_a_verified_audit_log(retail: Mesh) -> None:
    if not retail.access_requests(product="customer.profiles", consumer=ANA.name):
        grant(retail, ANA, "Count customers per country", None, clear=False)
    emails(retail, ANA)
    audit = retail.context.governance.audit
    kinds = {entry.kind for entry in audit.entries()}
    assert {"access.approved", "policy.evaluated", "protection.applied"} <= kinds
    [read, *_] = [e for e in reversed(audit.entries()) if e.kind == "protection.applied"]
    assert read.subject == "customer.profiles.profiles"
    assert "email" in read.details["columns"]
    verified = retail.verify_audit()
    assert verified.ok, verified.problems


def test_pii_sensitive_values_are_encrypted_at_rest_and_decrypted_for_clear_readers(
    retail: Mesh,
) -> None:
    import pyarrow.parquet as pq

    version = retail.stores.catalog.version("customer.profiles")
    assert version is not None
    [birth] = [c for c in version.ports[0].columns if c.name == "birth_date"]
    assert birth.classification == "pii-sensitive"
    assert birth.encrypted == "customer.profiles__profiles__v1/birth_date"
    files = [f.removeprefix("file://") for f in version.ports[0].files or []]
    stored = pq.read_table(files[0])
    assert str(stored.schema.field("birth_date").type) == "binary"
    owner = retail.query(
        "SELECT birth_date FROM customer.profiles ORDER BY customer_id", actor=SAMIR
    ).column("birth_date")
    assert str(owner.type) == "date32[day]"
    clear_texts = {value.isoformat().encode() for value in owner.to_pylist() if value}
    data = b"".join(Path(path).read_bytes() for path in files)
    assert not [text for text in clear_texts if text in data]
    assert all(len(value) > 16 for value in stored.column("birth_date").to_pylist() if value)
    if not retail.access_requests(product="customer.profiles", consumer=INES.name):
        grant(retail, INES, "Customer service", "answer a customer's own data request", True)
    ines = retail.query(
        "SELECT birth_date FROM customer.profiles ORDER BY customer_id", actor=INES
    ).column("birth_date")
    assert ines.to_pylist() == owner.to_pylist()


def _source(folder: Path, product: str, owner: str, team: str, emails: list[str]) -> Path:
    """A source product of one column, ``email`` (pii, concept customer), from a CSV file."""
    domain, name = product.split(".")
    (folder / "contracts").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "data" / "emails.csv").write_text("email\n" + "\n".join(emails) + "\n")
    (folder / "transform.sql").write_text("SELECT email FROM raw_emails\n")
    descriptor = {
        "apiVersion": "v1.0.0",
        "kind": "DataProduct",
        "id": product,
        "domain": domain,
        "status": "active",
        "description": {"purpose": "Emails to match."},
        "tags": ["source-aligned"],
        "team": {"name": team, "members": [{"username": owner, "role": "owner"}]},
        "inputPorts": [
            {
                "name": "raw_emails",
                "version": "1",
                "contractId": "source",
                "customProperties": [
                    {"property": "source", "value": {"path": "data/emails.csv", "format": "csv"}}
                ],
            }
        ],
        "outputPorts": [{"name": name, "version": "1.0.0", "contractId": f"{product}.{name}"}],
        "customProperties": [
            {"property": "transformation", "value": {"language": "sql", "path": "transform.sql"}}
        ],
    }
    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"{product}.{name}",
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": name,
                "properties": [
                    {
                        "name": "email",
                        "logicalType": "string",
                        "physicalType": "VARCHAR",
                        "classification": "pii",
                        "customProperties": [{"property": "concept", "value": "customer"}],
                    }
                ],
            }
        ],
        "slaProperties": [{"property": "retention", "value": 1, "unit": "y"}],
    }
    (folder / "dataproduct.yaml").write_text(yaml.safe_dump(descriptor))
    (folder / "contracts" / f"{name}.odcs.yaml").write_text(yaml.safe_dump(contract))
    return folder


def test_pseudonyms_match_across_the_domains_a_concept_is_shared_with_and_nowhere_else(
    retail: Mesh, tmp_path: Path
) -> None:
    """checkout shares the customer concept's scope (the retail governance folder): its
    emails join profiles' on pseudonyms. A lab of Ana's, outside it, publishing the same
    emails, gets pseudonyms of its own: no lookup table of others' pseudonyms."""
    known = [str(e) for e in emails(retail, SAMIR)]
    tom = Actor(name=retail.product("checkout.orders").contact)
    checkout = _source(tmp_path / "c", "checkout.emails", tom.name, "checkout-team", known)
    lab = _source(tmp_path / "l", "lab.emails", ANA.name, "lab-team", known)
    for folder, owner in ((checkout, tom), (lab, ANA)):
        [published] = retail.publish(folder, actor=owner)
        assert published.outcome == Outcome.PASSED, published.reason
    reader = Actor(name="matcher@retail.example")
    for target, owner in (
        ("checkout.emails", tom),
        ("lab.emails", ANA),
        ("customer.profiles", SAMIR),
    ):
        asked = retail.request_access(target, "Match emails across products", actor=reader)
        retail.approve_access(asked.id, actor=owner)

    def matched(product: str) -> int:
        return (
            retail.query(
                f"SELECT count(*) AS n FROM {product} x "
                "JOIN customer.profiles p ON x.email = p.email",
                actor=reader,
            )
            .column("n")[0]
            .as_py()
        )

    assert matched("checkout.emails") == len(known)
    assert matched("lab.emails") == 0


def test_the_report_page_opens_in_a_browser_with_no_server(retail: Mesh, tmp_path: Path) -> None:
    """Headless Chromium (`make test` installs it) renders the page from a file: the
    products and policies are in its document, and its policy refused nothing."""
    import shutil

    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("this test needs Chromium: run it through `make test`", pytrace=False)
    page = tmp_path / "report.html"
    run = subprocess.run(
        [sys.executable, "-m", "quanta", "governance", "report", "--html", str(page),
         "--home", str(retail.home)],
        capture_output=True,
        text=True,
        env={**os.environ, "QUANTA_USER": INES.name},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    opened = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr[-2000:]
    document = opened.stdout
    assert "Governance report" in document
    for product in ("customer.profiles", "marketing.attribution", "source-freshness"):
        assert product in document
    assert "Content Security Policy" not in opened.stderr  # it blocked nothing of the page
