"""Values of columns classified pii or restricted stay in the data.

Reproduced against an earlier Quanta: a SQL rule's observed value was hidden only when the
rule spelled a PII column byte for byte (``max(EMAIL)`` showed an email, kept in the check
history); ``show --json`` printed the Iceberg bounds of PII columns (real birth dates), and
the manifests kept the first characters of every text value.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from quanta.mesh import Mesh
from quanta.model.result import Outcome

NAMES = ("First item", "Second item")


def classify(product: Path, column: str, level: str) -> None:
    contract = product / "contracts" / "targets.odcs.yaml"
    text = contract.read_text(encoding="utf-8")
    block = re.compile(rf"(  - name: {column}\n(?:    .*\n)*?    classification: )\w+")
    assert block.search(text), column
    contract.write_text(block.sub(rf"\g<1>{level}", text, count=1), encoding="utf-8")


def add_rules(product: Path, rules: str, levels: str = "") -> None:
    contract = product / "contracts" / "targets.odcs.yaml"
    text = contract.read_text(encoding="utf-8")
    if rules:
        text = text.replace("  properties:\n", f"  quality:\n{rules}  properties:\n", 1)
    text = text.replace("slaProperties:\n", f"slaProperties:\n{levels}", 1)
    contract.write_text(text, encoding="utf-8")


def add_sql_rule(product: Path, query: str, comparison: str = "mustBe: 0") -> None:
    """A warning-level ``type: sql`` rule on the port's table."""
    quoted = query.replace("'", "''")
    add_rules(
        product,
        f"  - type: sql\n    query: '{quoted}'\n    {comparison}\n    severity: warning\n",
    )


@pytest.fixture
def private_product(source_product: Path) -> Path:
    classify(source_product, "name", "pii")
    classify(source_product, "updated_at", "restricted")
    classify(source_product, "amount", "pii")
    return source_product


def manifest_bounds(mesh: Mesh, table: str) -> dict[str, tuple[bool, bool]]:
    """Per column, whether any data file of the table's current snapshot records bounds."""
    catalog = SqlCatalog(
        "quanta",  # the catalog name Quanta's storage uses
        uri=f"sqlite:///{mesh.home / 'warehouse' / 'iceberg.db'}",
        warehouse=(mesh.home / "warehouse").resolve().as_uri(),
    )
    iceberg = catalog.load_table(tuple(table.split(".")))
    fields = {field.field_id: field.name for field in iceberg.schema().fields}
    found = dict.fromkeys(fields.values(), (False, False))
    for task in iceberg.scan().plan_files():
        for field_id, name in fields.items():
            lower, upper = found[name]
            found[name] = (
                lower or field_id in (task.file.lower_bounds or {}),
                upper or field_id in (task.file.upper_bounds or {}),
            )
    return found


def test_private_columns_leave_no_bounds_in_the_catalog_or_the_manifests(
    mesh: Mesh, private_product: Path
) -> None:
    [publication] = mesh.publish(private_product)
    assert publication.outcome == Outcome.PASSED, publication.reason

    port = mesh.describe("finance.targets").current.ports[0]
    assert port.stats is not None
    for column in ("name", "updated_at", "amount"):
        stats = port.stats.columns[column]
        assert (stats.lower, stats.upper) == (None, None), column
        assert stats.nulls == 0  # counts stay: they tell nothing of the values
    assert port.stats.columns["id"].lower == 1

    bounds = manifest_bounds(mesh, port.table)
    assert bounds["name"] == bounds["updated_at"] == bounds["amount"] == (False, False)
    assert bounds["id"] == (True, True)
    assert bounds["category"] == (True, True)
    shown = json.dumps(mesh.describe("finance.targets").model_dump(mode="json"))
    assert "2026-01-0" not in shown
    assert "12.5" not in shown


def test_a_column_classified_private_later_leaves_no_bounds_from_then_on(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    table = mesh.describe("finance.targets").current.ports[0].table
    assert manifest_bounds(mesh, table)["name"] == (True, True)

    classify(source_product, "name", "pii")
    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.PASSED, publication.reason
    assert manifest_bounds(mesh, table)["name"] == (False, False)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT max(NAME) FROM ${table}",
        'SELECT max("Name") FROM ${table}',
        "SELECT max(x) FROM ${table} AS t(a, x)",
        "SELECT max(COLUMNS('^na')) FROM ${table}",
        "SELECT max(t) FROM ${table} AS t",
        "SELECT length(max(name)) FROM ${table}",
    ],
)
def test_a_sql_rule_that_reads_pii_never_shows_what_it_observed(
    mesh: Mesh, private_product: Path, query: str
) -> None:
    add_sql_rule(private_product, query)

    [publication] = mesh.publish(private_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    [run] = mesh.check("finance.targets")

    assert publication.checks is not None
    for checks in (publication.checks.checks, run.checks):
        [rule] = [check for check in checks if check.name.startswith("sql ")]
        assert rule.outcome == Outcome.WARNED
        assert rule.observed is None
        assert "hidden" in rule.reason
    kept = json.dumps(
        [
            record.checks
            for record in mesh.stores.checks.check_history("finance.targets", _long_ago())
        ]
    ) + json.dumps(mesh.describe("finance.targets").current.checks)
    assert not any(name in kept for name in NAMES)


def test_freshness_of_a_private_column_does_not_show_its_newest_value(
    mesh: Mesh, private_product: Path
) -> None:
    add_rules(
        private_product,
        "",
        "- {property: freshness, value: 1, unit: d, element: targets.updated_at}\n",
    )

    [publication] = mesh.publish(private_product)

    assert publication.checks is not None
    [freshness] = [c for c in publication.checks.checks if c.name.startswith("freshness")]
    assert freshness.outcome == Outcome.WARNED  # the sample data is from January
    assert freshness.observed is None
    assert " d old" not in freshness.reason


LATER_COLUMNS = (("ports", "mapped"), ("versions", "code"), ("inputs", "columns"))
"""Columns that migrations after 0003 added to tables 0003 had."""
LATER_TABLES = (
    "access_requests",
    "dev_builds",
    "port_usage",
    "audit_log",
    "erasures",
    "retention_runs",
    "lifecycle",
    "webhooks",
    "webhook_deliveries",
    "expectations",
)
"""The tables of the migrations after 0004."""


def test_an_old_catalog_loses_the_private_values_it_kept(
    tmp_path: Path, private_product: Path
) -> None:
    home = tmp_path / "home"
    with Mesh.open(home) as mesh:
        [publication] = mesh.publish(private_product)
        assert publication.outcome == Outcome.PASSED
    # What a catalog written before migration 0004 holds.
    catalog = sqlite3.connect(home / "catalog.db")
    with catalog:
        [(stats,)] = catalog.execute("SELECT stats FROM ports").fetchall()
        found = json.loads(stats)
        found["columns"]["updated_at"].update(lower="1990-01-02", upper="1990-03-04")
        catalog.execute("UPDATE ports SET stats = ?", [json.dumps(found)])
        leaked = [
            {
                "name": "sql = 0: SELECT max(NAME) FROM ${table}",
                "port": "targets",
                "outcome": "warned",
                "observed": "Second item",
                "reason": "observed 'Second item', expected = 0",
            },
            {
                "name": "column id type",
                "port": "targets",
                "outcome": "passed",
                "observed": "BIGINT",
            },
        ]
        catalog.execute("UPDATE versions SET checks = ?", [json.dumps(leaked)])
        catalog.execute(
            "INSERT INTO check_runs (product_id, version, checked_at, trigger, outcome, checks) "
            "VALUES ('finance.targets', 1, '2026-01-01 00:00:00', 'check', 'warned', ?)",
            [json.dumps(leaked)],
        )
        catalog.execute("UPDATE alembic_version SET version_num = '0003'")
        catalog.execute("DROP TABLE events")  # as old as 0003: it had no event history
        for later in LATER_TABLES:  # nor the tables of the migrations after it
            catalog.execute(f"DROP TABLE {later}")
        for table, column in LATER_COLUMNS:  # nor their columns
            catalog.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    catalog.close()

    with Mesh.open(home) as mesh:
        view = mesh.describe("finance.targets")
        history = mesh.stores.checks.check_history("finance.targets", _long_ago())

    stats = view.current.ports[0].stats
    assert stats is not None
    assert stats.columns["updated_at"].lower is None
    kept = json.dumps(view.current.checks) + json.dumps([run.checks for run in history])
    assert "Second item" not in kept
    assert "1990" not in json.dumps(view.model_dump(mode="json"))
    assert '"observed": "BIGINT"' in kept  # what no private column holds is kept


def _long_ago():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "query",
    [
        # Glued to the placeholder: one word to a text search, two tokens to the engine.
        "SELECT name${table} FROM ${table} ORDER BY 1 LIMIT 1",
        "SELECT ${table}x FROM ${table} ORDER BY 1 LIMIT 1",
        "SELECT list(v) FROM (SELECT ${table}v FROM ${table})",
    ],
)
def test_text_glued_to_the_placeholder_is_read_as_the_engine_reads_it(
    mesh: Mesh, private_product: Path, query: str
) -> None:
    add_sql_rule(private_product, query, "mustNotBe: 0")

    [publication] = mesh.publish(private_product)

    assert publication.checks is not None
    [rule] = [check for check in publication.checks.checks if check.name.startswith("sql ")]
    assert rule.observed is None
    assert not any(name in json.dumps(rule.model_dump(mode="json")) for name in NAMES)


def test_a_rule_cannot_read_another_relation_through_the_placeholder(
    mesh: Mesh, source_product: Path
) -> None:
    add_rules(
        source_product,
        "  - type: sql\n    query: 'WITH raw_items__this AS (SELECT 1) "
        "SELECT count(*) FROM raw_items${table}'\n    mustBe: 0\n",
    )

    [validation] = mesh.validate(source_product)

    assert any("raw_items" in issue.message for issue in validation.issues), validation.issues


@pytest.mark.parametrize(
    ("query", "observed"),
    [
        ("SELECT CAST('abc' AS BLOB)", "<3 bytes>"),
        ("SELECT repeat('x', 20000)", None),
    ],
)
def test_what_a_sql_rule_observes_is_kept_small_and_plain(
    mesh: Mesh, source_product: Path, query: str, observed: object
) -> None:
    add_rules(
        source_product,
        f'  - type: sql\n    query: "{query}"\n    mustBe: 0\n    severity: warning\n',
    )

    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.PASSED, publication.reason
    assert publication.checks is not None
    [rule] = [check for check in publication.checks.checks if check.name.startswith("sql ")]
    if observed is not None:
        assert rule.observed == observed
    assert len(json.dumps(rule.model_dump(mode="json"))) < 3000


def test_bounds_kept_before_a_column_was_classified_private_are_dropped(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    [first] = mesh.describe("finance.targets").current.ports
    assert first.stats is not None
    assert first.stats.columns["updated_at"].lower is not None  # internal: kept

    classify(source_product, "updated_at", "pii")
    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.PASSED, publication.reason
    for version in mesh.describe("finance.targets").versions:
        [port] = version.ports
        assert port.stats is not None
        assert port.stats.columns["updated_at"].lower is None, version.version
        assert port.stats.columns["updated_at"].upper is None
    assert "2026-01-0" not in json.dumps(mesh.describe("finance.targets").model_dump(mode="json"))
