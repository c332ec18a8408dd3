"""Shared concepts (polysemes): the listing of the retail mesh, what a product folder
declares wrong about concepts and identifiers, and the joins that compare columns meaning
different things. Real meshes and real product folders, nothing mocked."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from quanta.build.inputs import resolve_inputs
from quanta.cli import app
from quanta.cli.concepts import print_join_warnings, render_concepts
from quanta.cli.output import PlainConsole
from quanta.examples import example_root
from quanta.governance.folder import load_rules
from quanta.mesh import Mesh
from quanta.model.concepts import (
    Carrier,
    ConceptMap,
    ConceptMapping,
    JoinedColumn,
    JoinWarning,
    MappedColumn,
    Meaning,
    SharedConcept,
)
from quanta.model.governance import Identifier
from quanta.model.result import Issue, Validation
from quanta.privacy.concepts import check_concepts, concept_map, mapped
from quanta.privacy.joins import Relation, join_warnings, relations_of, routed, suspicious_joins
from quanta.reading.ports import relations_named, served_ports
from quanta.validation.folder import load_folder

RETAIL = load_rules(example_root("retail") / "governance").config.concepts
runner = CliRunner()

# -- the listing ------------------------------------------------------------------------------


def test_the_retail_mesh_lists_its_concepts_their_columns_and_mappings(demo: Mesh) -> None:
    found = concept_map(demo.context)
    assert [concept.name for concept in found.concepts] == ["customer", "session"]
    customer = found.concept("customer")
    assert customer is not None
    assert customer.defined
    assert customer.description == RETAIL["customer"].description
    assert customer.domains == ("customer", "checkout")
    assert list(customer.identifiers) == ["customer_id", "user_id", "email"]
    assert customer.identifiers["email"].type == "string"
    assert {(c.product, c.port, c.column, c.identifier) for c in customer.carriers} == {
        ("checkout.orders", "orders", "customer_id", "customer_id"),
        ("customer.identity_map", "accounts", "customer_id", "customer_id"),
        ("customer.identity_map", "accounts", "user_id", "user_id"),
        ("customer.identity_map", "sessions", "customer_id", "customer_id"),
        ("customer.identity_map", "sessions", "user_id", "user_id"),
        ("customer.profiles", "profiles", "customer_id", "customer_id"),
        ("customer.profiles", "profiles", "email", "email"),
        ("customer.profiles", "profiles", "full_name", None),
        ("customer.profiles", "profiles", "birth_date", None),
        ("web.sessions", "sessions", "user_id", "user_id"),
    }
    assert customer.undeclared == ()

    def maps(concept: SharedConcept) -> dict[str, list[tuple[str, str, str]]]:
        return {
            m.address: [(c.column, c.concept, c.identifier) for c in m.columns]
            for m in concept.mappings
        }

    assert maps(customer) == {
        "customer.identity_map.accounts": [
            ("customer_id", "customer", "customer_id"),
            ("user_id", "customer", "user_id"),
        ],
        "customer.identity_map.sessions": [
            ("customer_id", "customer", "customer_id"),
            ("user_id", "customer", "user_id"),
            ("session_id", "session", "session_id"),
        ],
        "customer.profiles.profiles": [
            ("customer_id", "customer", "customer_id"),
            ("email", "customer", "email"),
        ],
    }
    session = found.concept("session")
    assert session is not None
    assert list(session.identifiers) == ["session_id"]
    assert {(c.product, c.column) for c in session.carriers} == {
        ("customer.identity_map", "session_id"),
        ("web.sessions", "session_id"),
    }
    assert list(maps(session)) == ["customer.identity_map.sessions"]
    assert [m.address for m in found.mappings] == [
        "customer.identity_map.accounts",
        "customer.identity_map.sessions",
        "customer.profiles.profiles",
    ]


def test_a_concept_only_contracts_name_is_listed_as_not_defined(demo: Mesh) -> None:
    catalog = demo.stores.catalog
    served = [(record, catalog.version(record.id)) for record in catalog.products()]
    found = mapped({"customer": RETAIL["customer"]}, [(r, v) for r, v in served if v])
    assert [(c.name, c.defined) for c in found.concepts] == [
        ("customer", True),
        ("session", False),
    ]
    session = found.concept("session")
    assert session is not None
    assert session.identifiers == {}
    assert session.undeclared == ("session_id",)


def test_routes_go_through_the_narrowest_mappings_and_chain_them(demo: Mesh) -> None:
    found = concept_map(demo.context)

    def route(start: tuple[str, str], end: tuple[str, str]) -> list[str]:
        first, second = (Meaning(concept=c, identifier=i) for c, i in (start, end))
        return [mapping.address for mapping in found.route(first, second)]

    # accounts and sessions both map customer_id to user_id: the one that maps only them.
    assert route(("customer", "customer_id"), ("customer", "user_id")) == [
        "customer.identity_map.accounts"
    ]
    assert route(("customer", "email"), ("customer", "user_id")) == [
        "customer.profiles.profiles",
        "customer.identity_map.accounts",
    ]
    assert route(("session", "session_id"), ("customer", "email")) == [
        "customer.identity_map.sessions",
        "customer.profiles.profiles",
    ]
    assert route(("customer", "email"), ("customer", "email")) == []
    assert route(("customer", "email"), ("supplier", "supplier_id")) == []


# -- what a folder declares wrong ---------------------------------------------------------------


def _column(
    name: str,
    concept: str | None = None,
    identifier: str | None = None,
    logical: str = "string",
) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "logicalType": logical,
        "physicalType": "BIGINT" if logical == "integer" else "VARCHAR",
        "classification": "internal",
    }
    properties = []
    if concept is not None:
        properties.append({"property": "concept", "value": concept})
    if identifier is not None:
        properties.append({"property": "identifier", "value": identifier})
    if properties:
        column["customProperties"] = properties
    return column


def _product(
    root: Path, columns: list[dict[str, Any]], mappings: list[dict[str, Any]] | None = None
) -> Path:
    """crm.contacts, a source product of one port, ``contacts``, with ``columns``."""
    folder = root / "crm" / "contacts"
    (folder / "contracts").mkdir(parents=True)
    (folder / "data").mkdir()
    names = [column["name"] for column in columns]
    (folder / "data" / "contacts.csv").write_text(",".join(names) + "\n")
    (folder / "transform.sql").write_text(f"SELECT {', '.join(names)} FROM raw_contacts\n")
    custom: list[dict[str, Any]] = [
        {"property": "transformation", "value": {"language": "sql", "path": "transform.sql"}}
    ]
    if mappings is not None:
        custom.append({"property": "mappings", "value": mappings})
    descriptor = {
        "apiVersion": "v1.0.0",
        "kind": "DataProduct",
        "id": "crm.contacts",
        "domain": "crm",
        "status": "active",
        "description": {"purpose": "Who the shop writes to."},
        "tags": ["source-aligned"],
        "team": {"name": "crm-team", "members": [{"username": "ana", "role": "owner"}]},
        "inputPorts": [
            {
                "name": "raw_contacts",
                "version": "1",
                "contractId": "source",
                "customProperties": [
                    {"property": "source", "value": {"path": "data/contacts.csv"}}
                ],
            }
        ],
        "outputPorts": [
            {"name": "contacts", "version": "1.0.0", "contractId": "crm.contacts.contacts"}
        ],
        "customProperties": custom,
    }
    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "crm.contacts.contacts",
        "version": "1.0.0",
        "status": "active",
        "schema": [{"name": "contacts", "properties": columns}],
        "slaProperties": [{"property": "retention", "value": 1, "unit": "y"}],
    }
    (folder / "dataproduct.yaml").write_text(yaml.safe_dump(descriptor, sort_keys=False))
    (folder / "contracts" / "contacts.odcs.yaml").write_text(
        yaml.safe_dump(contract, sort_keys=False)
    )
    return folder


def _issues(folder: Path, concepts: Any = RETAIL) -> list[Issue]:
    loaded = load_folder(folder)
    assert loaded.product is not None, loaded.issues
    validation = Validation(product="crm.contacts", path=str(folder), issues=loaded.issues)
    check_concepts(concepts, loaded, validation)
    return validation.issues


def _line_of(issue: Issue) -> str:
    assert issue.line is not None, issue
    return Path(issue.file).read_text().splitlines()[issue.line - 1]


def test_a_folder_that_declares_concepts_well_has_no_issues(workspace: Path) -> None:
    folder = _product(
        workspace,
        [
            _column("customer_id", "customer", "customer_id"),
            _column("email", "customer", "email"),
            _column("name", "customer"),
            _column("note"),
        ],
        [{"port": "contacts", "columns": ["customer_id", "email"]}],
    )
    assert _issues(folder) == []


def test_an_identifier_without_a_concept_says_which_concept_to_write(workspace: Path) -> None:
    folder = _product(workspace, [_column("customer_id", identifier="customer_id")])
    [issue] = _issues(folder)
    assert issue.file == "crm/contacts/contracts/contacts.odcs.yaml"
    assert issue.field == "schema[0].properties[0].customProperties[0].value"
    assert issue.message == (
        "column customer_id of port contacts names identifier customer_id but no concept"
    )
    assert issue.hint == "write {property: concept, value: customer} beside it"
    assert "value: customer_id" in _line_of(issue)


def test_an_identifier_its_concept_does_not_have_names_the_ones_it_has(workspace: Path) -> None:
    folder = _product(workspace, [_column("user", "customer", "userid")])
    [issue] = _issues(folder)
    assert issue.field == "schema[0].properties[0].customProperties[1].value"
    assert issue.value == "userid"
    assert issue.message == (
        "column user of port contacts names identifier userid, which concept customer does "
        "not have in the governance folder"
    )
    assert issue.hint is not None
    assert issue.hint.startswith(
        "use one of its identifiers: customer_id, user_id, email (did you mean user_id?)"
    )
    assert "value: userid" in _line_of(issue)


def test_an_identifier_of_another_logical_type_is_an_issue(workspace: Path) -> None:
    folder = _product(workspace, [_column("customer_id", "customer", "customer_id", "integer")])
    [issue] = _issues(folder)
    assert issue.field == "schema[0].properties[0].logicalType"
    assert "identifier customer_id of customer is string" in issue.message
    assert issue.hint == "write logicalType: string"
    assert "logicalType: integer" in _line_of(issue)


def test_a_concept_the_governance_folder_does_not_define_blocks(workspace: Path) -> None:
    folder = _product(workspace, [_column("email", "custmer")])
    [issue] = _issues(folder)
    assert issue.field == "schema[0].properties[0].customProperties[0].value"
    assert issue.message == (
        "column email of port contacts names concept custmer, which the governance folder "
        "does not define"
    )
    assert issue.hint is not None
    assert issue.hint.startswith(
        "use one of the concepts it defines: customer, session (did you mean customer?)"
    )
    assert "value: custmer" in _line_of(issue)
    # A mesh whose governance folder defines no concepts does not check their names.
    assert _issues(folder, {}) == []


def test_a_mapping_of_a_port_that_is_not_an_output_port(workspace: Path) -> None:
    folder = _product(
        workspace,
        [_column("customer_id", "customer", "customer_id"), _column("email", "customer", "email")],
        [{"port": "contact", "columns": ["customer_id", "email"]}],
    )
    [issue] = _issues(folder)
    assert issue.file == "crm/contacts/dataproduct.yaml"
    assert issue.field == "customProperties[1].value[0].port"
    assert issue.message == (
        "mapping 1 names port contact, which is not an output port of crm.contacts"
    )
    assert issue.hint == "name one of its output ports: contacts (did you mean contacts?)"
    assert "port: contact" in _line_of(issue)


def test_a_mapping_of_columns_not_in_the_contract_or_without_identifier(workspace: Path) -> None:
    folder = _product(
        workspace,
        [
            _column("customer_id", "customer", "customer_id"),
            _column("email", "customer", "email"),
            _column("name", "customer"),
        ],
        [{"port": "contacts", "columns": ["customer_id", "phone", "name", "customer_id"]}],
    )
    issues = _issues(folder)
    assert [(issue.field, issue.message) for issue in issues] == [
        (
            "customProperties[1].value[0].columns[1]",
            "mapping 1 names column phone, which is not in the contract of port contacts",
        ),
        (
            "customProperties[1].value[0].columns[2]",
            "mapping 1 names column name of port contacts, which declares no identifier: a "
            "mapping maps identifiers",
        ),
        ("customProperties[1].value[0].columns[3]", "mapping 1 names column customer_id twice"),
    ]
    assert issues[0].hint == "name one of its columns: customer_id, email, name"
    assert issues[1].hint is not None
    assert issues[1].hint.startswith(
        "in crm/contacts/contracts/contacts.odcs.yaml, write customProperties: [{property: "
        "concept, value: ...}, {property: identifier, value: ...}] on the column"
    )
    assert [_line_of(issue).strip() for issue in issues] == ["- phone", "- name", "- customer_id"]


def test_validate_tells_the_concept_issues(demo: Mesh, workspace: Path) -> None:
    """Through `Mesh.validate`, with the demo's governance folder."""
    folder = _product(workspace, [_column("customer_id", identifier="customer_id")])
    [validation] = demo.validate(folder)
    # Access says its own too: the tester is in no team of domain crm.
    assert [issue.message for issue in validation.issues if "concept" in issue.message] == [
        "column customer_id of port contacts names identifier customer_id but no concept"
    ]


# -- joins --------------------------------------------------------------------------------------


def _served(mesh: Mesh, sql: str) -> dict[str, Relation]:
    return relations_of(served_ports(mesh.stores.catalog, relations_named(sql)))


def test_a_join_of_different_concepts_says_which_mapping_to_join_through(demo: Mesh) -> None:
    sql = (
        "SELECT count(*) AS n\n"
        "FROM checkout.orders AS o\n"
        "JOIN web.sessions AS s ON o.customer_id = s.session_id"
    )
    [warning] = join_warnings(demo.context, sql)
    assert warning.left.name == "checkout.orders.orders.customer_id"
    assert warning.right.name == "web.sessions.sessions.session_id"
    assert not warning.same_concept
    assert warning.line == 3
    assert warning.through == ("customer.identity_map.sessions",)
    assert str(warning) == (
        "line 3: checkout.orders.orders.customer_id (customer customer_id) is compared with "
        "web.sessions.sessions.session_id (session session_id): customer and session are "
        "different concepts, whose values match only by accident; join through "
        "customer.identity_map.sessions"
    )


def test_a_join_of_two_identifiers_of_one_concept_with_a_mapping(demo: Mesh) -> None:
    sql = (
        "SELECT count(*) AS n FROM web.sessions AS s "
        "JOIN customer.profiles AS p ON s.user_id = p.customer_id"
    )
    [warning] = join_warnings(demo.context, sql)
    assert (warning.left.name, warning.right.name) == (
        "web.sessions.sessions.user_id",
        "customer.profiles.profiles.customer_id",
    )
    assert warning.same_concept
    assert warning.through == ("customer.identity_map.accounts",)
    assert warning.message.endswith(
        "two different identifiers of customer, whose values never match (or match the "
        "wrong subjects)"
    )
    assert warning.hint == "join through customer.identity_map.accounts"
    # In the WHERE, through a CTE and with IN, it is the same comparison.
    for variant in (
        "SELECT * FROM web.sessions s, customer.profiles p WHERE s.user_id = p.customer_id",
        "WITH t AS (SELECT user_id AS u FROM web.sessions) "
        "SELECT * FROM t JOIN customer.profiles p ON CAST(t.u AS VARCHAR) = p.customer_id",
        "SELECT * FROM customer.profiles p WHERE p.customer_id IN (SELECT user_id FROM "
        "web.sessions)",
        "SELECT * FROM customer.profiles p WHERE EXISTS (SELECT 1 FROM web.sessions s "
        "WHERE s.user_id = p.customer_id)",
    ):
        [found] = join_warnings(demo.context, variant)
        assert {found.left.name, found.right.name} == {
            "web.sessions.sessions.user_id",
            "customer.profiles.profiles.customer_id",
        }, variant
        assert found.through == ("customer.identity_map.accounts",)


def test_a_join_of_two_identifiers_without_a_mapping_says_so(demo: Mesh) -> None:
    """The retail mesh as if no product declared its mappings."""
    sql = "SELECT * FROM web.sessions s JOIN customer.profiles p ON s.user_id = p.email"
    catalog = demo.stores.catalog
    served = []
    for record in catalog.products():
        version = catalog.version(record.id)
        assert version is not None
        served.append((record.model_copy(update={"descriptor": {}}), version))
    [warning] = routed(suspicious_joins(sql, _served(demo, sql)), mapped(RETAIL, served))
    assert warning.through == ()
    assert warning.hint == (
        "no port of the mesh maps user_id to email: compare columns of the same identifier, "
        "or publish a mapping (dataproduct.yaml customProperties: mappings)"
    )
    # With the mappings, two of them lead there.
    [routed_warning] = join_warnings(demo.context, sql)
    assert routed_warning.hint == (
        "join through customer.identity_map.accounts, then customer.profiles.profiles"
    )


def test_a_correct_join_warns_of_nothing(demo: Mesh) -> None:
    for sql in (
        "SELECT count(*) FROM web.sessions AS s "
        "JOIN customer.identity_map.sessions AS m USING (session_id)",
        "SELECT count(*) FROM web.sessions AS s "
        "JOIN customer.identity_map.sessions AS m ON s.session_id = m.session_id",
        "SELECT count(*) FROM web.sessions AS s "
        "JOIN customer.identity_map.accounts AS a ON s.user_id = a.user_id "
        "JOIN checkout.orders AS o ON o.customer_id = a.customer_id",
        # Not judged: a translation, a column naming the concept only, one relation's own.
        "SELECT * FROM web.sessions s JOIN customer.profiles p "
        "ON concat('c-', right(s.user_id, 7)) = p.customer_id",
        "SELECT * FROM web.sessions s JOIN customer.profiles p ON s.user_id = p.full_name",
        "SELECT * FROM customer.identity_map.accounts WHERE customer_id = user_id",
    ):
        assert join_warnings(demo.context, sql) == [], sql


def test_a_transformation_s_joins_over_its_inputs(demo: Mesh) -> None:
    """marketing.attribution joins web.sessions to the identity map on session_id, then
    orders on customer_id: nothing to tell. Joined on the web user instead, it is told."""
    folder = demo.home / "examples" / "retail" / "marketing" / "attribution"
    loaded = load_folder(folder)
    assert loaded.product is not None, loaded.issues
    ports = resolve_inputs(loaded.product, demo.stores.catalog).upstream
    sql = (folder / "transform.sql").read_text()
    assert "USING (session_id)" in sql
    assert join_warnings(demo.context, sql, ports) == []
    wrong = sql.replace("USING (session_id)", "ON s.user_id = m.customer_id")
    [warning] = join_warnings(demo.context, wrong, ports)
    assert (warning.left.name, warning.right.name) == (
        "web.sessions.sessions.user_id",
        "customer.identity_map.sessions.customer_id",
    )
    assert warning.line == 6
    assert warning.through == ("customer.identity_map.accounts",)


def test_using_compares_columns_of_one_name_and_different_meanings() -> None:
    customer = Meaning(concept="customer", identifier="customer_id")
    relations = {
        "crm.people": Relation("crm.people", "people", {"id": customer, "name": None}),
        "web.visits": Relation(
            "web.visits", "visits", {"id": Meaning(concept="session", identifier="session_id")}
        ),
        "shop.buyers": Relation("shop.buyers", "buyers", {"id": customer}),
    }
    sql = "SELECT *\nFROM crm.people\nJOIN web.visits USING (id)"
    [warning] = suspicious_joins(sql, relations)
    assert {warning.left.name, warning.right.name} == {
        "crm.people.people.id",
        "web.visits.visits.id",
    }
    assert warning.line == 3  # the join's line: USING spells no equality
    assert suspicious_joins("SELECT * FROM crm.people JOIN shop.buyers USING (id)", relations) == []
    # A NATURAL join compares the columns of one name too.
    natural = "SELECT *\nFROM crm.people\nNATURAL JOIN web.visits"
    assert suspicious_joins(natural, relations) == [warning]


HOSTILE = [
    "",
    "SELEC FROM ((( ;; ' unterminated",
    "SELECT 1; SELECT * FROM web.sessions s JOIN customer.profiles p ON s.user_id = p.customer_id",
    "INSERT INTO x SELECT * FROM web.sessions",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON s.user_id = p.customer_id\x00",
    "SELECT '\udc80' FROM web.sessions s JOIN customer.profiles p ON s.user_id = p.customer_id",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON "
    + "(" * 3000
    + "s.user_id = p.customer_id"
    + ")" * 3000,
    "SELECT * FROM " + "(SELECT * FROM " * 400 + "web.sessions" + ") x" * 400,
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON "
    + " OR ".join(["s.user_id = p.customer_id"] * 5000),
    "SELECT 1" + " " * 300_000,
    "SELECT * FROM web.sessions PIVOT (count(*) FOR channel IN ('a', 'b')) p "
    "JOIN customer.profiles c ON p.user_id = c.customer_id",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
    "SELECT * FROM r JOIN web.sessions s ON r.n = s.user_id",
    "SELECT * FROM range(3) r JOIN web.sessions s ON r.range = s.user_id",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON user_id = user_id",
    "SELECT * FROM web.sessions s JOIN web.sessions s ON s.user_id = s.session_id",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON s.* = p.*",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON #1 = #2",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON s.user_id.x.y = p.customer_id()",
    "SELECT * FROM web.sessions s JOIN customer.profiles p ON (SELECT 1) = (SELECT 2)",
]


@pytest.mark.parametrize("sql", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_sql_never_raises_and_warns_of_nothing(demo: Mesh, sql: str) -> None:
    started = time.perf_counter()
    assert join_warnings(demo.context, sql) == []
    assert time.perf_counter() - started < 5  # 0.2 s for the largest here


def test_hostile_names_never_raise() -> None:
    meaning = Meaning(concept="customer", identifier="customer_id")
    relations = {
        name: Relation("x.y", "z", {"a": meaning, "": None, '"': meaning})
        for name in ("", ".", "a..b", "a.b.c.d", '"', "\x1b[2J", "a.b")
    }
    for sql in ('SELECT * FROM a.b x JOIN a.b y ON x."""" = y.a', 'SELECT * FROM "\x1b[2J"'):
        assert suspicious_joins(sql, relations) == []


# -- the shells ---------------------------------------------------------------------------------


def _printed(render: Any, *args: Any) -> str:
    buffer = io.StringIO()
    render(*args, PlainConsole(file=buffer, width=160))
    return buffer.getvalue()


def test_the_listing_prints_each_concept_as_tables(demo: Mesh) -> None:
    printed = _printed(render_concepts, concept_map(demo.context))
    assert f"customer: {RETAIL['customer'].description}" in printed
    assert "pseudonyms shared by the domains customer, checkout" in printed
    assert "customer.identity_map.sessions" in printed
    assert "customer_id = user_id = session session_id" in printed
    assert "names it" in printed  # full_name: the concept, no identifier
    assert _printed(render_concepts, ConceptMap()).startswith("No concept is defined or named")


def test_the_listing_and_join_warnings_print_foreign_words_as_typed() -> None:
    hostile = "\x1b[2J[bold red]x[/]\u202e"
    concept = SharedConcept(
        name=hostile,
        description=hostile,
        defined=False,
        identifiers={hostile: Identifier(description=hostile)},
        carriers=(Carrier(product=hostile, port=hostile, column=hostile, identifier="other"),),
        mappings=(
            ConceptMapping(
                product=hostile,
                port=hostile,
                columns=(MappedColumn(column=hostile, concept=hostile, identifier=hostile),),
            ),
        ),
    )
    printed = _printed(render_concepts, ConceptMap(concepts=(concept,)))
    assert "\x1b[2J" not in printed
    assert "\u202e" not in printed
    assert "\\x1b[2J[bold red]x[/]\\u202e" in printed
    assert "not defined in the governance folder" in printed
    side = JoinedColumn(product=hostile, port="p", column=hostile, meaning=Meaning(concept=hostile))
    warning = JoinWarning(left=side, right=side, line=1, through=(hostile,))
    told = _printed(print_join_warnings, [warning])
    assert "\x1b" not in told
    assert told.startswith("warning: line 1: \\x1b[2J[bold red]x[/]\\u202e.p.")
    assert "hint: join through \\x1b[2J[bold red]x[/]\\u202e" in told


def test_quanta_concepts_lists_them_as_tables_and_json(demo: Mesh) -> None:
    shown = runner.invoke(app, ["concepts", "--home", str(demo.home)])
    assert shown.exit_code == 0, shown.output
    assert f"customer: {RETAIL['customer'].description}" in shown.stdout
    assert "customer.identity_map.accounts" in shown.stdout
    as_json = runner.invoke(app, ["concepts", "--json", "--home", str(demo.home)])
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.stdout)
    assert [concept["name"] for concept in listed["concepts"]] == ["customer", "session"]
    customer = listed["concepts"][0]
    assert customer["identifiers"]["user_id"] == {
        "type": "string",
        "description": RETAIL["customer"].identifiers["user_id"].description,
    }
    assert {"product": "web.sessions", "port": "sessions", "column": "user_id"}.items() <= (
        customer["carriers"][-1].items()
    )


def test_quanta_query_tells_a_suspicious_join_on_stderr(demo: Mesh) -> None:
    sql = (
        "SELECT count(*) AS n FROM web.sessions s "
        "JOIN customer.profiles p ON s.user_id = p.customer_id"
    )
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["query", sql, *extra, "--home", str(demo.home)])
        assert result.exit_code == 0, result.output
        assert "warning: line 1: web.sessions.sessions.user_id" in result.stderr
        assert "hint: join through customer.identity_map.accounts" in result.stderr
        assert "warning" not in result.stdout
    fine = runner.invoke(
        app,
        [
            "query",
            "SELECT count(*) AS n FROM web.sessions s "
            "JOIN customer.identity_map.sessions m USING (session_id)",
            "--home",
            str(demo.home),
        ],
    )
    assert fine.exit_code == 0, fine.output
    assert fine.stderr == ""


def test_a_publish_tells_the_suspicious_joins_of_its_transformation(retail: Mesh) -> None:
    """marketing.attribution matching web users to customers directly, not through the
    identity map: it publishes (advice, not a block), and its build says why not to."""
    from quanta.model.actor import Actor

    folder = retail.home.parent / "workspace" / "marketing" / "attribution"
    transform = folder / "transform.sql"
    text = transform.read_text()
    start, end = text.index("WITH touches AS ("), text.index(")\nSELECT")
    transform.write_text(
        text[:start]
        + "WITH touches AS (\n"
        + "    SELECT s.user_id AS customer_id, s.started_at, s.channel\n"
        + "    FROM web.sessions AS s\n"
        + text[end:]
    )
    [publication] = retail.publish(folder, actor=Actor(name="tom.greene@retail.example"))
    assert publication.outcome.ok, publication.reason
    assert publication.build is not None
    [told] = [line for line in publication.build.log if "warning:" in line]
    assert "transform.sql" in told
    assert "join through customer.identity_map.accounts" in told
