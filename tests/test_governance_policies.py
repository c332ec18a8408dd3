"""The policy engine: policies compiled with CEL, evaluated over the facts of product folders
as `quanta init` writes them and as the catalog keeps them, and the governance folder that
merges the federation's policies with the defaults. Nothing is mocked: plugins come through
a real entry point on ``sys.path``."""

from __future__ import annotations

import gc
import textwrap
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from quanta.errors import ConfigError
from quanta.examples import copy_example, example_root, load_example
from quanta.governance.facts import product_facts, record_facts
from quanta.governance.folder import default_policies, load_rules
from quanta.governance.policies import (
    MAX_FACT_ITEMS,
    SEMVER,
    CompiledPolicies,
    PolicyFunction,
    compile_policies,
    installed_functions,
)
from quanta.model.access import AccessRequest, RequestState
from quanta.model.actor import ActorKind
from quanta.model.governance import Finding, Policy, RolloutState, Severity
from quanta.model.product import DataProduct
from quanta.model.result import Outcome
from quanta.model.usage import ConsumerUsage
from quanta.scaffold import scaffold
from quanta.validation.folder import load_folder

DAY = date(2026, 6, 1)
DEFAULTS = load_rules(None)


def loaded(folder: Path) -> DataProduct:
    result = load_folder(folder)
    assert result.product is not None, result.issues
    return result.product


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def contract_of(folder: Path) -> Path:
    [path] = (folder / "contracts").glob("*.odcs.yaml")
    return path


def columns(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["schema"][0]["properties"]
    return found


def failing(facts: dict[str, Any], rules: Any = DEFAULTS, day: date = DAY) -> dict[str, Finding]:
    findings = rules.evaluate(facts, day)
    assert all(f.error is None for f in findings), [f.error for f in findings]
    return {f.policy: f for f in findings if not f.holds}


def policy(condition: str, **fields: Any) -> Policy:
    values = {"id": "test-policy", "title": "A test", "rationale": "Tests it.", "fix": "fix it"}
    return Policy.model_validate({**values, "condition": condition, **fields})


# -- facts ----------------------------------------------------------------------------------


def test_the_facts_of_a_folder_hold_every_key_as_plain_values(source_product: Path) -> None:
    facts = product_facts(loaded(source_product))
    assert set(facts) == {
        "id", "domain", "name", "owner", "members", "kind", "status", "description",
        "purpose", "usage_text", "tags", "retention", "inputs", "ports", "checks", "usage",
        "grants",
    }  # fmt: skip
    assert facts["id"] == "finance.targets"
    assert facts["owner"] == "finance-team"
    assert facts["kind"] == "source-aligned"  # `quanta init` tags it "source"
    assert facts["retention"] == "1 y"
    assert facts["inputs"] == [{"name": "raw_items", "product": "", "source": True}]
    assert facts["checks"] == {"run": False, "passed": 0, "warned": 0, "failed": 0}
    assert facts["usage"] == {"reads": 0, "consumers": 0}
    [port] = facts["ports"]
    assert {key: port[key] for key in ("name", "version", "has_contract", "contract_version")} == {
        "name": "targets",
        "version": "1.0.0",
        "has_contract": True,
        "contract_version": "1.0.0",
    }
    assert port["contract_id"] == "finance.targets.targets"
    assert port["service_levels"] == [{"property": "retention", "value": "1", "unit": "y"}]
    assert port["columns"][0] == {
        "name": "id",
        "logical_type": "integer",
        "physical_type": "BIGINT",
        "classification": "internal",
        "concept": "",
        "identifier": "",
        "required": True,
        "description": "Identifies the item.",
    }

    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(item) for item in value)
        return isinstance(value, str | int | bool)

    assert plain(facts)


def test_the_facts_of_a_published_product_come_from_its_documents(source_product: Path) -> None:
    product = loaded(source_product)
    descriptor = product.descriptor.to_document()
    contracts = {port: c.to_document() for port, c in product.contracts.items()}
    now = datetime(2026, 6, 1, tzinfo=UTC)
    grant = AccessRequest(
        id=1,
        product="finance.targets",
        consumer="sales.report",
        consumer_kind=ActorKind.PRODUCT,
        requested_by="ana",
        purpose="Monthly targets",
        days=30,
        state=RequestState.APPROVED,
        requested_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=29, hours=1),
    )
    usage = [
        ConsumerUsage(
            product="finance.targets",
            consumer=name,
            kind=ActorKind.USER,
            reads=reads,
            rows=1,
            bytes=1,
            last_read=now,
        )
        for name, reads in (("ana", 3), ("bo", 2))
    ]
    facts = record_facts(
        descriptor,
        contracts,
        checks=[Outcome.PASSED, "passed", Outcome.WARNED, Outcome.ERROR],
        usage=usage,
        grants=[grant],
        now=now,
    )
    assert facts["checks"] == {"run": True, "passed": 2, "warned": 1, "failed": 1}
    assert facts["usage"] == {"reads": 5, "consumers": 2}
    assert facts["grants"] == [
        {
            "consumer": "sales.report",
            "purpose": "Monthly targets",
            "clear_pii": False,
            "days_left": 29,
        }
    ]
    plain = record_facts(descriptor, contracts)
    assert plain == product_facts(product)
    # A port the catalog keeps no contract for: still there, without one.
    [without] = record_facts(descriptor, {})["ports"]
    assert (without["has_contract"], without["contract_version"], without["columns"]) == (
        False,
        "",
        [],
    )


# -- the default policies -------------------------------------------------------------------


def test_a_scaffolded_product_holds_every_default_policy(source_product: Path) -> None:
    findings = DEFAULTS.evaluate(product_facts(loaded(source_product)), DAY)
    assert all(f.holds for f in findings), findings
    # Not in scope: no PII column, not consumer-aligned.
    assert {f.policy for f in findings} == {p.id for p in default_policies()} - {
        "pii-concept",
        "consumer-purpose",
    }


def _no_purpose(folder: Path) -> None:
    edit(folder / "dataproduct.yaml", lambda d: d.update(description={"usage": "SELECT 1"}))


def _unclassified(folder: Path) -> None:
    edit(contract_of(folder), lambda d: columns(d)[2].pop("classification"))


def _pii_without_concept(folder: Path) -> None:
    edit(contract_of(folder), lambda d: columns(d)[1].update(classification="pii"))


def _no_service_levels(folder: Path) -> None:
    edit(contract_of(folder), lambda d: d.pop("slaProperties"))


def _consumer_without_purpose(folder: Path) -> None:
    edit(
        folder / "dataproduct.yaml",
        lambda d: d.update(tags=["consumer-aligned"], description={"purpose": "  "}),
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_no_purpose, {"description": ()}),
        (_unclassified, {"columns-classified": ("column targets.category",)}),
        (_pii_without_concept, {"pii-concept": ("column targets.name",)}),
        (_no_service_levels, {"retention": (), "service-levels": ("port targets",)}),
        (_consumer_without_purpose, {"description": (), "consumer-purpose": ()}),
    ],
)
def test_each_default_policy_fails_on_the_folder_that_breaks_it(
    source_product: Path,
    change: Callable[[Path], None],
    expected: dict[str, tuple[str, ...]],
) -> None:
    change(source_product)
    found = failing(product_facts(loaded(source_product)))
    assert {key: f.failing for key, f in found.items()} == expected
    for finding in found.values():
        rule = next(p for p in default_policies() if p.id == finding.policy)
        assert finding.message == f"{rule.title}: {rule.fix}"
        assert finding.product == "finance.targets"
        assert finding.domain == "finance"
        assert finding.state == RolloutState.ENFORCED
        assert finding.blocks == (rule.severity == Severity.BLOCK)


def test_a_pii_column_naming_its_concept_holds(source_product: Path) -> None:
    _pii_without_concept(source_product)
    concept = [{"property": "concept", "value": "customer"}]
    edit(contract_of(source_product), lambda d: columns(d)[1].update(customProperties=concept))
    facts = product_facts(loaded(source_product))
    assert facts["ports"][0]["columns"][1]["concept"] == "customer"
    [checked] = [f for f in DEFAULTS.evaluate(facts, DAY) if f.policy == "pii-concept"]
    assert checked.holds


def test_owner_and_contract_version_fail_on_what_the_catalog_keeps(source_product: Path) -> None:
    # A valid folder always has both (its validation asks for them); a kept record may not.
    product = loaded(source_product)
    descriptor = product.descriptor.to_document()
    descriptor.pop("team")
    descriptor["outputPorts"].append({"name": "extra", "version": "1.0.0"})
    contracts = {"targets": {**product.contracts["targets"].to_document(), "version": "1.0"}}
    found = failing(record_facts(descriptor, contracts))
    assert found["owner-and-domain"].blocks
    assert found["contract-version"].failing == ("port targets", "port extra")
    assert found["contract-version"].blocks


def test_semver_reads_major_minor_patch() -> None:
    assert [SEMVER.call(v) for v in ("1.2.3", "0.0.1", "10.20.30")] == [True] * 3
    assert [SEMVER.call(v) for v in ("1.2", "v1.2.3", "01.2.3", "1.2.3-rc1", "")] == [False] * 5


# -- scopes and rollout ---------------------------------------------------------------------


@pytest.fixture
def two_products(workspace: Path, source_product: Path) -> list[dict[str, Any]]:
    """finance.targets (source-aligned, no PII) and sales.report (consumer-aligned, a PII
    column)."""
    other = scaffold("sales/report", "source", workspace, {})
    edit(other / "dataproduct.yaml", lambda d: d.update(tags=["consumer-aligned"]))
    _pii_without_concept(other)
    return [product_facts(loaded(folder)) for folder in (source_product, other)]


@pytest.mark.parametrize(
    ("scope", "each", "products"),
    [
        ({}, "product", {"finance.targets", "sales.report"}),
        ({"domains": ["sales"]}, "product", {"sales.report"}),
        ({"kinds": ["source-aligned"]}, "product", {"finance.targets"}),
        ({"products": ["finance.targets"]}, "port", {"finance.targets"}),
        ({"classifications": ["pii"]}, "product", {"sales.report"}),
        ({"classifications": ["pii"], "domains": ["finance"]}, "column", set()),
    ],
)
def test_a_scope_limits_the_products_a_policy_concerns(
    two_products: list[dict[str, Any]], scope: dict[str, Any], each: str, products: set[str]
) -> None:
    rules = compile_policies([policy("true", scope=scope, each=each)])
    compliance = rules.evaluate_mesh(two_products, DAY)
    assert {f.product for f in compliance.findings} == products
    assert all(f.holds for f in compliance.findings)


def test_a_column_policy_with_classifications_looks_at_those_columns_only(
    two_products: list[dict[str, Any]],
) -> None:
    rules = compile_policies(
        [policy("false", scope={"classifications": ["pii", "restricted"]}, each="column")]
    )
    [finding] = rules.evaluate_mesh(two_products, DAY).findings
    assert (finding.product, finding.failing) == ("sales.report", ("column report.name",))


def test_each_binds_product_port_and_column(two_products: list[dict[str, Any]]) -> None:
    rules = compile_policies(
        [
            policy('port.name == product.name && column.name != "amount"', id="col", each="column"),
            policy('port.name != "report"', id="por", each="port"),
        ]
    )
    found = {f.policy: f.failing for f in rules.evaluate(two_products[1], DAY)}
    assert found == {"col": ("column report.amount",), "por": ("port report",)}
    with pytest.raises(
        ConfigError,
        match=r"undeclared reference to 'column\.name'.*each: port gives it product, port",
    ):
        compile_policies([policy("column.name != ''", each="port")])


def test_grace_warns_until_its_day_and_is_enforced_after(source_product: Path) -> None:
    facts = product_facts(loaded(source_product))
    grace = {"state": "grace", "until": DAY.isoformat()}
    rules = compile_policies([policy("false", severity="block", rollout=grace)])
    [on_the_day] = rules.evaluate(facts, DAY)
    assert (on_the_day.state, on_the_day.until) == (RolloutState.GRACE, DAY)
    assert on_the_day.warns
    assert not on_the_day.blocks
    [after] = rules.evaluate(facts, DAY + timedelta(days=1))
    assert after.state == RolloutState.ENFORCED
    assert after.blocks


def test_a_draft_is_evaluated_and_reported_but_never_told_or_blocking(
    source_product: Path,
) -> None:
    rules = compile_policies([policy("false", severity="block", rollout={"state": "draft"})])
    [draft] = rules.evaluate(product_facts(loaded(source_product)), DAY)
    assert (draft.holds, draft.state) == (False, RolloutState.DRAFT)
    assert not draft.warns
    assert not draft.blocks


# -- errors ---------------------------------------------------------------------------------


def test_a_condition_that_does_not_compile_names_its_file_line_and_column(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "governance"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "mesh.yaml").write_text(
        textwrap.dedent(
            """\
            # the federation's policies
            policies:
              - id: fine
                title: Fine
                rationale: It compiles.
                fix: nothing
                condition: product.owner != ""
              - id: broken
                title: Broken
                rationale: It does not.
                fix: nothing
                condition: product.owner != "" && 1 + "a" == 2
            """
        )
    )
    with pytest.raises(ConfigError) as raised:
        load_rules(folder)
    message = str(raised.value)
    assert "governance/policies/mesh.yaml:8: the condition of policy 'broken'" in message
    assert "found no matching overload for '_+_'" in message
    assert "column 26 of the condition" in message


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("product.ports.size()", "gives int, not true or false"),
        ("semver(1)", "no matching overload for 'semver'"),
        ("exec('rm -rf /')", "undeclared reference to 'exec'"),
        ("product.owner !=", "Syntax error"),
    ],
)
def test_conditions_are_checked_when_compiled(condition: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"^here\.yaml:3: the condition of policy") as raised:
        compile_policies([policy(condition, source="here.yaml:3")])
    assert problem in str(raised.value)


def test_an_evaluation_error_fails_the_policy_without_a_value_of_the_facts(
    source_product: Path,
) -> None:
    facts = product_facts(loaded(source_product))
    rules = compile_policies(
        [
            policy('{"known": true}[product.owner]', id="by-owner", severity="block"),
            policy("product.nothing == 1", id="missing"),
            policy("product.owner", id="a-string"),
            policy("port.columns[product.usage.reads + 7].required", id="index", each="port"),
            policy("product.owner.matches(product.owner + '(')", id="pattern"),
            policy("product.description != ''", id="fine"),
        ]
    )
    found = {f.policy: f for f in rules.evaluate(facts, DAY)}
    assert found["fine"].holds
    assert found["fine"].error is None
    errors = {key: f.error for key, f in found.items() if key != "fine"}
    assert all(not found[key].holds for key in errors)
    assert found["by-owner"].blocks  # could not be evaluated: as good as failing
    assert errors["missing"] == (
        'the condition could not be evaluated: Key not found in map : "nothing"'
    )
    assert errors["by-owner"] == 'the condition could not be evaluated: Key not found in map : "…"'
    assert errors["a-string"] == "the condition gives string, not true or false"
    assert errors["index"] == "the condition could not be evaluated: Index error: index=7 size=…"
    assert errors["pattern"] == "the condition could not be evaluated: invalid regular expression"
    for error in errors.values():
        assert error is not None
        assert "finance" not in error
        assert "targets" not in error


def test_one_bad_product_never_stops_the_evaluation_of_the_mesh(source_product: Path) -> None:
    good = product_facts(loaded(source_product))
    odd = {**good, "id": "finance.odd", "tags": [{"a", "set"}]}  # no CEL value
    big = {**good, "id": "finance.big"}
    big["ports"] = [{**good["ports"][0], "columns": good["ports"][0]["columns"] * MAX_FACT_ITEMS}]
    rules = compile_policies(
        [policy("product.tags.size() >= 0", id="tags"), policy("true", id="always")]
    )
    compliance = rules.evaluate_mesh([odd, big, good], DAY)
    by = {(f.product, f.policy): f for f in compliance.findings}
    assert len(by) == 6
    assert by["finance.targets", "tags"].holds
    assert by["finance.targets", "always"].holds
    assert by["finance.odd", "always"].holds  # the other policies still say for themselves
    assert by["finance.odd", "tags"].error == (
        "the condition could not be evaluated: a fact has a type CEL does not know "
        "(a fault of the platform)"
    )
    assert "over the limit of 10,000" in (by["finance.big", "always"].error or "")
    assert not by["finance.big", "always"].holds


def test_one_expression_for_every_policy_finds_what_each_alone_finds(
    two_products: list[dict[str, Any]],
) -> None:
    alone = CompiledPolicies(DEFAULTS.compiled, DEFAULTS.environment, None)
    together = DEFAULTS.evaluate_mesh(two_products, DAY)
    assert together.findings == alone.evaluate_mesh(two_products, DAY).findings
    assert any(not f.holds for f in together.findings)  # sales.report's PII column
    assert gc.isenabled()  # paused while the mesh was evaluated, and on again


# -- the governance folder ------------------------------------------------------------------


def _folder(tmp_path: Path, governance: str | None, **policies: str) -> Path:
    folder = tmp_path / "governance"
    (folder / "policies").mkdir(parents=True, exist_ok=True)
    if governance is not None:
        (folder / "governance.yaml").write_text(textwrap.dedent(governance))
    for name, text in policies.items():
        (folder / "policies" / f"{name}.yaml").write_text(textwrap.dedent(text))
    return folder


DESCRIPTION_BLOCKS = """\
    policies:
      - id: description
        title: Every product says what it offers, in a few sentences
        rationale: Our catalog lists nothing without one.
        severity: block
        condition: product.description.size() >= 80
        fix: write description.purpose, at least 80 characters
      - id: two-owners
        title: Two owners
        rationale: Holidays.
        rollout: {state: draft}
        condition: size(product.members) >= 2
        fix: add a member
    """


def test_a_folder_replaces_and_disables_defaults(tmp_path: Path, source_product: Path) -> None:
    folder = _folder(
        tmp_path,
        """\
        protections: {pii: mask}
        policies:
          disable: [retention, service-levels]
        """,
        mesh=DESCRIPTION_BLOCKS,
    )
    rules = load_rules(folder)
    ids = [p.id for p in rules.policies]
    defaults = [p.id for p in default_policies()]
    assert ids == [i for i in defaults if i not in ("retention", "service-levels")] + ["two-owners"]
    replaced = next(p for p in rules.policies if p.id == "description")
    assert replaced.severity == Severity.BLOCK
    assert replaced.source.endswith("policies/mesh.yaml:2")
    assert rules.config.protection("pii").protection == "mask"
    _no_service_levels(source_product)
    found = failing(product_facts(loaded(source_product)), rules)
    assert set(found) == {"description", "two-owners"}  # retention and service levels: off
    assert found["description"].blocks
    assert load_rules(folder).fingerprint == rules.fingerprint
    assert rules.fingerprint != DEFAULTS.fingerprint


def test_no_folder_or_an_empty_governance_file_is_the_defaults(tmp_path: Path) -> None:
    assert [p.id for p in DEFAULTS.policies] == [p.id for p in default_policies()]
    assert all(p.source.startswith("quanta/governance/defaults.yaml:") for p in DEFAULTS.policies)
    assert all(p.rollout.state == RolloutState.ENFORCED for p in DEFAULTS.policies)
    empty = load_rules(_folder(tmp_path, "# nothing decided yet\n"))
    assert empty.fingerprint == DEFAULTS.fingerprint
    with pytest.raises(ConfigError, match="there is no governance folder"):
        load_rules(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("governance", "policies", "problem"),
    [
        (
            "policies:\n  disable:\n    - retention\n    - retension\n",
            {},
            r"governance\.yaml:4 \(policies\.disable\[1\]\): 'retension' is not a default "
            r"policy: disable one of owner-and-domain, ",
        ),
        (
            "policies: {disable: [description]}\n",
            {"mesh": DESCRIPTION_BLOCKS},
            r"governance\.yaml:1 .*'description' is disabled here and written at "
            r".*mesh\.yaml:2: remove one",
        ),
        (
            None,
            {"a": DESCRIPTION_BLOCKS, "b": DESCRIPTION_BLOCKS.replace("description", "other")},
            r"policy id 'two-owners' is used twice, at .*policies/a\.yaml:8 and at "
            r".*policies/b\.yaml:8",
        ),
        (
            None,
            {"typo": DESCRIPTION_BLOCKS.replace("    rollout:", "    rolout:")},
            r"typo\.yaml:11 \(policies\[1\]\.rolout\): unknown key 'rolout': did you mean "
            r"'rollout'\?",
        ),
        (
            None,
            {"bad": DESCRIPTION_BLOCKS.replace("{state: draft}", "{state: grace}")},
            r"bad\.yaml:11 .*a grace period needs its last day",
        ),
        ("protections: {secret: mask}\n", {}, r"governance\.yaml:1 .*unknown classification"),
    ],
)
def test_a_wrong_governance_folder_names_the_file_and_line(
    tmp_path: Path, governance: str | None, policies: dict[str, str], problem: str
) -> None:
    folder = _folder(tmp_path, governance, **policies)
    with pytest.raises(ConfigError, match=problem):
        load_rules(folder)


# -- functions from plugins -----------------------------------------------------------------

PLUGIN = """
from quanta.governance.policies import PolicyFunction

def _team_of(username: str) -> str:
    return username.split("@")[-1]

def _fails(text: str) -> bool:
    raise ValueError("the secret " + text)

TEAM_OF = PolicyFunction("team_of", ("string",), "string", _team_of)
FAILS = PolicyFunction("fails", ("string",), "bool", _fails)
"""


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: str) -> None:
    """An installed plugin, as pip leaves one: its module and its metadata on sys.path."""
    site = tmp_path / "site"
    info = site / "quanta_policy_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: quanta-policy-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[quanta.policy_functions]\n{entries}")
    (site / "quanta_policy_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))


def test_a_plugins_function_is_called_by_conditions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_product: Path
) -> None:
    _plugin(
        tmp_path,
        monkeypatch,
        "team_of = quanta_policy_plugin:TEAM_OF\nfails = quanta_policy_plugin:FAILS\n",
    )
    assert {f.name for f in installed_functions()} == {"semver", "team_of", "fails"}
    folder = _folder(
        tmp_path,
        None,
        mesh="""\
        policies:
          - id: members-of-the-company
            title: Members are ours
            rationale: Only our people own products.
            condition: product.members.all(m, team_of(m) == "quanta.example")
            fix: list only colleagues
          - id: broken-plugin
            title: Uses a broken function
            rationale: Shows what a broken function does.
            condition: fails(product.owner)
            fix: fix the plugin
        """,
    )
    findings = {
        f.policy: f for f in load_rules(folder).evaluate(product_facts(loaded(source_product)), DAY)
    }
    assert findings["members-of-the-company"].holds  # the tester is tester@quanta.example
    broken = findings["broken-plugin"]
    assert not broken.holds
    assert (
        broken.error == "the condition could not be evaluated: function fails failed (ValueError)"
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("gone = quanta_policy_plugin_gone:GONE", "'gone' cannot be loaded \\(ModuleNotFoundError"),
        ("other = quanta_policy_plugin:TEAM_OF", "'other' is not a PolicyFunction named 'other'"),
    ],
)
def test_a_broken_plugin_entry_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, problem: str
) -> None:
    _plugin(tmp_path, monkeypatch, entry)
    with pytest.raises(ConfigError, match=f"the quanta.policy_functions entry {problem}"):
        load_rules(None)


def test_a_function_is_declared_with_cel_types_only() -> None:
    with pytest.raises(ValueError, match="unknown type 'text'"):
        PolicyFunction("shout", ("text",), "string", str.upper)
    shout = PolicyFunction("shout", ("string",), "bool", str.upper)  # says bool, gives text
    rules = compile_policies([policy('shout("a")')], functions=[shout])
    [finding] = rules.evaluate({"id": "a.b", "domain": "a", "kind": ""}, DAY)
    assert (
        finding.error
        == "the condition could not be evaluated: function shout returned str, not bool"
    )


# -- the example mesh -----------------------------------------------------------------------


def test_the_example_mesh_against_the_default_policies(tmp_path: Path) -> None:
    """Which default policy each product of the example mesh fails (printed; the example
    is brought to pass them all separately)."""
    root = example_root("retail")
    workspace = copy_example(root, tmp_path / "retail")
    for seed in load_example(root).seeds:  # only their existence is checked here
        (workspace / seed.to).parent.mkdir(parents=True, exist_ok=True)
        (workspace / seed.to).touch()
    folders = sorted(p.parent for p in workspace.glob("*/*/dataproduct.yaml"))
    assert len(folders) == 6
    compliance = DEFAULTS.evaluate_mesh([product_facts(loaded(f)) for f in folders], DAY)
    assert all(f.error is None for f in compliance.findings)
    for finding in compliance.findings:
        if not finding.holds:
            print(finding.product, finding.policy, finding.failing)


def test_a_columns_facts_hold_the_keys_conditions_read_or_all_of_them() -> None:
    from quanta.governance.facts import COLUMN_KEYS

    assert load_rules(None).column_keys == {"name", "classification", "concept"}
    over_columns = policy(
        'product.ports.all(p, p.columns.all(c, c.logical_type != "" && c.required))'
    )
    assert compile_policies([over_columns]).column_keys == {
        "name",
        "classification",
        "logical_type",
        "required",
    }
    each_column = policy('column.description != ""', each="column")
    assert "description" in compile_policies([each_column]).column_keys
    indexed = policy('product.ports[0].columns[0].physical_type != ""')
    assert compile_policies([indexed]).column_keys == COLUMN_KEYS
    # A condition sees the same verdict on pruned facts as on whole ones.
    rules = compile_policies([over_columns])
    whole = {
        "id": "a.b",
        "domain": "a",
        "ports": [
            {
                "name": "p",
                "columns": [
                    {
                        "name": "x",
                        "logical_type": "string",
                        "physical_type": "VARCHAR",
                        "classification": "internal",
                        "concept": "",
                        "required": False,
                        "description": "",
                    }
                ],
            }
        ],
    }
    pruned = {
        **whole,
        "ports": [
            {
                "name": "p",
                "columns": [
                    {
                        k: v
                        for k, v in whole["ports"][0]["columns"][0].items()
                        if k in rules.column_keys
                    }
                ],
            }
        ],
    }
    day = date(2026, 12, 1)
    assert [f.holds for f in rules.evaluate(whole, day)] == [
        f.holds for f in rules.evaluate(pruned, day)
    ]


def test_the_retail_federation_asks_identifier_columns_to_say_so(source_product: Path) -> None:
    """Its policy identifiers-declared: a column named like one of the mesh's identifiers
    that declares none is one an erasure would not search."""
    from quanta.examples import example_root

    retail = load_rules(example_root("retail") / "governance")
    edit(contract_of(source_product), lambda d: columns(d)[0].update(name="customer_id"))
    found = failing(product_facts(loaded(source_product)), retail)
    assert found["identifiers-declared"].failing == ("column targets.customer_id",)
    declared = [
        {"property": "concept", "value": "customer"},
        {"property": "identifier", "value": "customer_id"},
    ]
    edit(contract_of(source_product), lambda d: columns(d)[0].update(customProperties=declared))
    assert "identifiers-declared" not in failing(product_facts(loaded(source_product)), retail)
