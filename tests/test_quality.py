"""Contract quality rules: declared in ODCS, checked on every publish in one scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import grant, member_of_every_team
from quanta.mesh import Mesh
from quanta.model.contract import Contract
from quanta.model.result import Outcome
from quanta.quality import conformance, metrics, parsing, rules

ROWS = """id,name,category,amount,updated_at
1,First item,general,12.50,2026-01-01 09:00:00
2,Second item,general,7.25,2026-01-02 10:30:00
3,Third item,special,99.00,2026-01-03 16:45:00
4,,odd,-5.00,2026-01-04 08:00:00
5,Fifth,general,20000.00,2026-01-05 08:00:00
"""

RULES = """
    quality:
      - {metric: rowCount, mustBeBetween: [1, 100]}
"""

COLUMN_RULES = {
    "name": """    logicalTypeOptions: {minLength: 3}
    quality:
      - {metric: nullValues, mustBeLessThan: 10, unit: percent, severity: warning}
""",
    "category": """    quality:
      - metric: invalidValues
        arguments: {validValues: [general, special]}
        mustBe: 0
""",
    "amount": """    logicalTypeOptions: {minimum: 0, maximum: 10000}
""",
}


def with_rules(folder: Path) -> Path:
    """The scaffolded finance.targets, with rules on its table and columns and planted rows."""
    (folder / "data" / "items.csv").write_text(ROWS)
    contract = folder / "contracts" / "targets.odcs.yaml"
    lines = contract.read_text().splitlines(keepends=True)
    out: list[str] = []
    pending = dict(COLUMN_RULES)
    current = None
    for line in lines:
        if line.startswith("  - name: "):
            current = line.split(": ", 1)[1].strip()
        if line.startswith("  properties:"):
            out.append(
                RULES.lstrip("\n")
                .replace("    quality", "  quality", 1)
                .replace("      - {metric: rowCount", "    - {metric: rowCount")
            )
        out.append(line)
        if current in pending and line.startswith("    classification:"):
            out.append(pending.pop(current))
    contract.write_text("".join(out))
    return folder


def checks_by_name(publication: object) -> dict[str, object]:
    return {check.name: check for check in publication.checks.checks}  # type: ignore[attr-defined]


def test_planted_violations_are_caught_with_observed_values(
    mesh: Mesh, source_product: Path
) -> None:
    with_rules(source_product)
    [validation] = mesh.validate(source_product)
    assert validation.issues == []
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    checks = checks_by_name(publication)
    assert checks["category invalidValues = 0"].outcome == Outcome.FAILED
    assert checks["category invalidValues = 0"].observed == 1
    assert checks["amount >= 0"].observed == 1
    assert checks["amount <= 10000"].observed == 1
    assert checks["rowCount between 1 and 100"].outcome == Outcome.PASSED
    assert checks["rowCount between 1 and 100"].observed == 5
    # name is null in one row of five: 20 %, a warning, not an error.
    warned = checks["name nullValues < 10 %"]
    assert warned.outcome == Outcome.WARNED
    assert warned.observed == 20.0
    assert mesh.products() == []


def test_warnings_do_not_block_publishing(mesh: Mesh, source_product: Path) -> None:
    with_rules(source_product)
    data = source_product / "data" / "items.csv"
    data.write_text(
        data.read_text().replace("4,,odd,-5.00", "4,,general,5.00").replace("20000.00", "200.00")
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    outcomes = {check.name: check.outcome for check in publication.checks.checks}
    assert outcomes["name nullValues < 10 %"] == Outcome.WARNED
    stored = mesh.describe("finance.targets").current.checks
    assert any(check["outcome"] == "warned" for check in stored)


def test_failing_rows_are_sampled_without_pii(mesh: Mesh, source_product: Path) -> None:
    with_rules(source_product)
    contract = source_product / "contracts" / "targets.odcs.yaml"
    text = contract.read_text()
    contract.write_text(
        text.replace(
            "description: What the item is called.\n    classification: internal",
            "description: What the item is called.\n    classification: pii",
        )
    )
    [publication] = mesh.publish(source_product)
    failed = checks_by_name(publication)["category invalidValues = 0"]
    assert len(failed.samples) == 1
    [row] = failed.samples
    assert row["category"] == "odd"
    assert row["id"] == 4
    assert "name" not in row


def test_all_column_and_table_rules_share_one_scan(source_product: Path) -> None:
    import duckdb
    import yaml

    with_rules(source_product)
    contract = Contract.model_validate(
        yaml.safe_load((source_product / "contracts" / "targets.odcs.yaml").read_text())
    )
    columns = {c.name: c.physical_type or "" for c in contract.columns}
    target = conformance.Target("targets", contract, columns)
    plans = [rule(target) for rule in conformance.DATA_RULES]
    query, keys = conformance.compile_query(plans, '"t"') or ("", [])
    assert len(keys) >= 8
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE t (id BIGINT, name VARCHAR, category VARCHAR, amount DECIMAL(12,2), "
        "updated_at TIMESTAMP)"
    )
    plan = "\n".join(row[1] for row in connection.execute(f"EXPLAIN {query}").fetchall())
    # Every row-level and table measure from one read of the table; the primary key's
    # uniqueness sorts the key column in a read of its own (faster than hashing it).
    assert plan.count("SEQ_SCAN") == 2
    assert plan.count("WINDOW") == 1


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{metric: nullCount, mustBe: 0}", "unknown quality metric 'nullCount'"),
        ("{metric: nullValues, mustBe: zero}", "mustBe must be a number, not 'zero'"),
        ("{metric: nullValues, column: nope, mustBe: 0}", "column 'nope', which the contract"),
        (
            "{metric: invalidValues, column: name, arguments: {pattern: '[a-'}, mustBe: 0}",
            "does not compile",
        ),
        ("{metric: nullValues}", "the rule has no comparison"),
        ("{metric: rowCount, mustBeBetween: [10, 1]}", "two numbers, smallest first"),
        ("{metric: rowCount, mustBe: 1, severity: fatal}", "unknown severity 'fatal'"),
    ],
)
def test_a_bad_rule_is_an_issue_at_its_line(
    mesh: Mesh, source_product: Path, rule: str, message: str
) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    text = contract.read_text()
    contract.write_text(
        text.replace("  properties:\n", f"  quality:\n    - {rule}\n  properties:\n")
    )
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert message in issue.message
    assert issue.file == "finance/targets/contracts/targets.odcs.yaml"
    lines = contract.read_text().splitlines()
    assert issue.line == 1 + next(i for i, line in enumerate(lines) if rule in line)
    assert issue.hint
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert mesh.products() == []


def test_a_rule_that_cannot_run_yet_is_reported(mesh: Mesh, source_product: Path) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    contract.write_text(
        contract.read_text().replace(
            "  properties:\n",
            "  quality:\n    - {type: custom, engine: soda, implementation: x}\n  properties:\n",
        )
    )
    [validation] = mesh.validate(source_product)
    assert [i.message for i in validation.issues] == [
        "quality rules of type 'custom' are not run yet"
    ]


def test_thresholds_compare_as_odcs_says() -> None:
    assert rules.Threshold("mustBeLessThan", 5).holds(4)
    assert not rules.Threshold("mustBeLessThan", 5).holds(5)
    assert rules.Threshold("mustBeBetween", [1, 3]).holds(3)
    assert rules.Threshold("mustNotBeBetween", [1, 3]).holds(0)
    assert str(rules.Threshold("mustBeBetween", [1, 3])) == "between 1 and 3"


def test_the_example_mesh_catches_violations_planted_in_its_sources(tmp_path: Path) -> None:
    import duckdb

    with Mesh.open(tmp_path / "home") as mesh:
        workspace, publications = mesh.demo(scale=0.002)
        assert all(p.outcome == Outcome.PASSED for p in publications)
        member_of_every_team(mesh)  # to publish the whole mesh at once, as its CI would
        orders = workspace / "checkout" / "orders" / "data" / "orders.parquet"
        planted = orders.with_name("planted.parquet")
        duckdb.sql(
            f"COPY (SELECT * REPLACE ("
            f"CASE WHEN order_id = 'o-000000001' THEN 'lost' ELSE status END AS status, "
            f"CASE WHEN order_id = 'o-000000002' THEN -1 ELSE amount END AS amount) "
            f"FROM '{orders}') TO '{planted}' (FORMAT parquet)"
        )
        planted.replace(orders)
        results = {p.product: p for p in mesh.publish(workspace)}
        failed = results["checkout.orders"]
        assert failed.outcome == Outcome.FAILED
        checks = {c.name: c for c in failed.checks.checks if c.outcome == Outcome.FAILED}
        assert set(checks) == {"status invalidValues = 0", "amount >= 0"}
        assert checks["status invalidValues = 0"].samples[0]["status"] == "lost"
        assert results["sales.daily_revenue"].outcome == Outcome.SKIPPED
        assert mesh.product("checkout.orders").current_version == 1


def add_to_contract(contract: Path, after: str, text: str) -> None:
    body = contract.read_text()
    assert after in body
    contract.write_text(body.replace(after, after + text, 1))


def test_freshness_is_a_service_level_that_warns(mesh: Mesh, source_product: Path) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(
        contract,
        "slaProperties:\n",
        "- {property: freshness, value: 1, unit: d, element: targets.updated_at}\n",
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED
    fresh = checks_by_name(publication)["freshness updated_at within 1 d"]
    assert fresh.outcome == Outcome.WARNED  # the sample rows are from January 2026
    assert fresh.observed > 86_400
    contract.write_text(contract.read_text().replace("value: 1, unit: d", "value: 5200, unit: w"))
    [again] = mesh.publish(source_product)
    assert checks_by_name(again)["freshness updated_at within 5200 w"].outcome == Outcome.PASSED


def test_a_freshness_level_that_is_no_duration_is_an_issue(
    mesh: Mesh, source_product: Path
) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(
        contract,
        "slaProperties:\n",
        "- {property: freshness, value: 1, unit: m, element: targets.updated_at}\n",
    )
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert issue.message == "freshness of 1 'm' is not a duration"
    assert issue.field == "slaProperties[0].unit"


def reading_product(mesh: Mesh, workspace: Path, orphan: bool) -> Path:
    """sales.lines: a source of order lines whose item_id must be an id of finance.targets."""
    folder = mesh.init_product("sales/lines", directory=workspace)
    ids = "1\n2\n3\n" + ("99\n" if orphan else "")
    (folder / "data" / "items.csv").write_text(
        "id,name,category,amount,updated_at\n"
        + "".join(
            f"{i.strip()},line {i.strip()},general,1.00,2026-01-01 00:00:00\n"
            for i in ids.splitlines()
        )
    )
    descriptor = folder / "dataproduct.yaml"
    add_to_contract(
        descriptor,
        "inputPorts:\n",
        "- name: targets\n  version: '1'\n  contractId: finance.targets\n",
    )
    contract = folder / "contracts" / "lines.odcs.yaml"
    add_to_contract(
        contract,
        "    description: Identifies the item.\n",
        "    relationships:\n    - {type: foreignKey, to: targets.id}\n",
    )
    return folder


def test_a_reference_to_an_input_port_is_checked(
    mesh: Mesh, source_product: Path, workspace: Path
) -> None:
    mesh.publish(source_product)
    folder = reading_product(mesh, workspace, orphan=True)
    grant(mesh, "finance.targets", "sales.lines")
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.FAILED
    broken = checks_by_name(publication)["id references targets.id"]
    assert broken.observed == 1
    assert broken.samples[0]["id"] == 99
    data = folder / "data" / "items.csv"
    data.write_text(
        "".join(
            line
            for line in data.read_text().splitlines(keepends=True)
            if not line.startswith("99,")
        )
    )
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.PASSED
    assert checks_by_name(publication)["id references targets.id"].outcome == Outcome.PASSED
    # Checking the published version later reads the input at the version it was built from.
    [run] = mesh.check("sales.lines")
    assert {c.name: c.outcome for c in run.checks}["id references targets.id"] == Outcome.PASSED


def test_a_reference_must_read_an_input_port(mesh: Mesh, source_product: Path) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(
        contract,
        "    description: Identifies the item.\n",
        "    relationships:\n    - {type: foreignKey, to: customers.customer_id}\n",
    )
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert issue.message == (
        "the reference reads 'customers', which is not an input port of this product"
    )
    assert issue.hint == "declare it as an input port (input ports: raw_items)"


def sql_rule(folder: Path, rule: str) -> Path:
    contract = folder / "contracts" / "targets.odcs.yaml"
    add_to_contract(contract, "  description: The targets table.\n", f"  quality:\n  - {rule}\n")
    return contract


def test_a_sql_rule_reads_the_ports_own_rows(mesh: Mesh, source_product: Path) -> None:
    sql_rule(
        source_product,
        "{type: sql, name: no expensive items, query: 'SELECT count(*) FROM ${table} "
        "WHERE amount > 50', mustBe: 0, severity: warning}",
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED
    check = checks_by_name(publication)["no expensive items"]
    assert check.outcome == Outcome.WARNED
    assert check.observed == 1  # the third sample row costs 99.00


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT count(*) FROM customer.profiles", "the SQL reads 'customer.profiles'"),
        ("DELETE FROM ${table}", "may only read data"),
        ("SELECT count(*) FROM read_csv('/etc/passwd')", "table function read_csv()"),
    ],
)
def test_a_sql_rule_may_read_nothing_else(
    mesh: Mesh, source_product: Path, query: str, message: str
) -> None:
    contract = sql_rule(source_product, f'{{type: sql, query: "{query}", mustBe: 0}}')
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert message in issue.message
    assert issue.field == "schema[0].quality[0].query"
    lines = contract.read_text().splitlines()
    assert issue.line == 1 + next(i for i, line in enumerate(lines) if "type: sql" in line)


def test_checks_are_kept_as_history_and_service_levels_measured_by_day(
    mesh: Mesh, source_product: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(
        contract,
        "slaProperties:\n",
        "- {property: freshness, value: 1, unit: d, element: targets.updated_at}\n",
    )
    mesh.publish(source_product)
    mesh.check("finance.targets")
    history = mesh.stores.checks.check_history(
        "finance.targets", datetime.now(UTC) - timedelta(days=1)
    )
    assert [run.trigger for run in history] == ["publish", "check"]
    assert all(run.version == 1 and run.outcome == "warned" for run in history)
    days = len({run.checked_at.date() for run in history})  # 2 if the runs straddle midnight
    [level] = mesh.describe("finance.targets").service_levels
    assert level.name == "targets: freshness updated_at within 1 d"
    assert (level.days_met, level.days_measured, level.window_days) == (0, days, 30)
    assert str(level).endswith(f"met 0 of the {days} days measured in the last 30")


def run_rules(properties: list[dict[str, object]], rows: str, **table: object) -> list[object]:
    """The contract rules of a table made by ``rows``, run by DuckDB, as checks by name."""
    import duckdb

    contract = Contract.model_validate(
        {
            "id": "x.t.t",
            "version": "1.0.0",
            "schema": [{"name": "t", "properties": properties, **table}],
            "slaProperties": table.pop("sla", []) if "sla" in table else [],
        }
    )
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE t AS {rows}")
    columns = dict(
        connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't'"
        ).fetchall()
    )
    target = conformance.Target("t", contract, columns)
    plan = conformance.contract_quality_rule(target)
    query, keys = conformance.compile_query([plan], '"t"') or ("", [])
    values = dict(zip(keys, connection.execute(query).fetchone() or (), strict=True))
    return plan.judge(values)


def test_valid_values_and_a_range_both_apply() -> None:
    [check] = run_rules(
        [
            {
                "name": "s",
                "logicalType": "string",
                "quality": [
                    {
                        "metric": "invalidValues",
                        "arguments": {"validValues": ["y"], "pattern": "^[a-z]$"},
                        "mustBe": 0,
                    }
                ],
            }
        ],
        "SELECT * FROM (VALUES ('x'), ('y'), ('Y')) v(s)",
    )
    assert check.observed == 2  # x is not a valid value, Y breaks both


def test_null_among_valid_values_is_not_the_text_none() -> None:
    [check] = run_rules(
        [
            {
                "name": "s",
                "logicalType": "string",
                "quality": [
                    {
                        "metric": "invalidValues",
                        "arguments": {"validValues": ["y", None]},
                        "mustBe": 0,
                    }
                ],
            }
        ],
        "SELECT * FROM (VALUES ('None'), ('y'), (NULL)) v(s)",
    )
    assert check.observed == 1


def test_freshness_of_nothing_is_not_met_and_a_date_counts_to_its_end() -> None:
    sla = [{"property": "freshness", "value": 1, "unit": "d", "element": "t.d"}]
    [empty] = run_rules(
        [{"name": "d", "logicalType": "date"}], "SELECT CAST(NULL AS DATE) AS d", sla=sla
    )
    assert empty.outcome == Outcome.WARNED
    assert empty.reason == "nothing to measure: no rows, or only empty values"
    [yesterday] = run_rules(
        [{"name": "d", "logicalType": "date"}], "SELECT current_date - 1 AS d", sla=sla
    )
    assert yesterday.outcome == Outcome.PASSED


def test_a_sql_rule_reading_pii_never_shows_its_value() -> None:
    [check] = run_rules(
        [{"name": "email", "logicalType": "string", "classification": "pii"}],
        "SELECT 'bob@example.com' AS email",
        quality=[
            {
                "type": "sql",
                "name": "longest email",
                "query": "SELECT max(email) FROM ${table}",
                "mustBe": 0,
            }
        ],
    )
    assert check.outcome == Outcome.FAILED
    assert check.observed is None
    assert "bob" not in check.reason


def test_a_sql_rule_may_end_in_a_comment_and_two_rules_never_share_a_name() -> None:
    rule = {"metric": "nullValues", "mustBe": 0}
    checks = run_rules(
        [{"name": "s", "logicalType": "string", "quality": [rule, rule]}],
        "SELECT 'a' AS s",
        quality=[
            {
                "type": "sql",
                "name": "rows",
                "query": "SELECT count(*) FROM ${table} -- all",
                "mustBe": 1,
            }
        ],
    )
    assert sorted(c.name for c in checks) == ["rows", "s nullValues = 0", "s nullValues = 0 (2)"]
    assert all(c.outcome == Outcome.PASSED for c in checks)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("{name: s, logicalType: string, quality: [nullValues]}", "a valid dictionary"),
        (
            "{name: s, logicalType: string, quality: [{metric: nullValues, arguments: [a], "
            "mustBe: 0}]}",
            "arguments must be a mapping",
        ),
        (
            "{name: s, logicalType: string, quality: [{metric: nullValues, unit: Percent, "
            "mustBe: 0}]}",
            "unknown unit 'Percent'",
        ),
        (
            "{name: s, logicalType: string, quality: [{metric: missingValues, arguments: "
            "{missingValues: N/A}, mustBe: 0}]}",
            "missingValues must be a list",
        ),
        (
            "{name: s, logicalType: string, quality: [{metric: invalidValues, arguments: "
            "{validValues: [US, NO]}, mustBe: 0}]}",
            "validValues holds true or false",
        ),
        (
            "{name: s, logicalType: string, logicalTypeOptions: {minimum: 3}}",
            "minimum bounds numbers and dates",
        ),
        (
            "{name: s, logicalType: integer, logicalTypeOptions: {minLength: 3}}",
            "minLength applies to text",
        ),
        ("{name: __quanta_flag_q0, logicalType: boolean}", "are Quanta's"),
        (
            "{name: s, logicalType: string, quality: [{metric: invalidValues, arguments: "
            "{validValues: [1, 2]}, mustBe: 0}]}",
            "validValues holds numbers",
        ),
        (
            "{name: s, logicalType: string, quality: [{type: sql, query: 'SELECT 1, 2 FROM "
            "${table}', mustBe: 1}]}",
            "returns 2 columns",
        ),
    ],
)
def test_rule_shapes_that_cannot_run_are_issues(
    mesh: Mesh, source_product: Path, column: str, message: str
) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(contract, "  properties:\n", f"  - {column}\n")
    (source_product / "transform.sql").write_text("SELECT 1")  # never reached
    [validation] = mesh.validate(source_product)
    found = [issue for issue in validation.issues if issue.file.endswith(".odcs.yaml")]
    assert any(message in issue.message for issue in found), found


def test_an_unquoted_date_bounds_a_timestamp(mesh: Mesh, source_product: Path) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(
        contract,
        "    description: When the item last changed.\n",
        "    logicalTypeOptions: {minimum: 2026-01-02}\n",
    )
    [publication] = mesh.publish(source_product)
    assert checks_by_name(publication)["updated_at >= 2026-01-02"].observed == 1


def test_a_reference_to_a_source_is_skipped_when_checking_later(
    mesh: Mesh, source_product: Path
) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    add_to_contract(
        contract,
        "    description: Identifies the item.\n",
        "    relationships:\n    - {type: foreignKey, to: raw_items.id}\n",
    )
    [publication] = mesh.publish(source_product)
    assert checks_by_name(publication)["id references raw_items.id"].outcome == Outcome.PASSED
    [run] = mesh.check("finance.targets")
    later = {check.name: check for check in run.checks}["id references raw_items.id"]
    assert later.outcome == Outcome.SKIPPED
    assert "not readable here" in later.reason


def test_repeated_values_are_counted_and_sampled_and_null_never_repeats() -> None:
    unique, duplicates = run_rules(
        [
            {"name": "k", "logicalType": "integer", "unique": True},
            {
                "name": "v",
                "logicalType": "string",
                "quality": [{"metric": "duplicateValues", "mustBeLessThan": 10, "unit": "percent"}],
            },
        ],
        "SELECT * FROM (VALUES (1, 'a'), (2, 'a'), (2, 'a'), (3, 'b'), (NULL, NULL), "
        "(NULL, NULL)) t(k, v)",
    )
    assert (unique.outcome, unique.observed) == (Outcome.FAILED, 1)
    assert [row["k"] for row in unique.samples] == [2]
    assert (duplicates.outcome, duplicates.observed) == (Outcome.FAILED, round(100 * 2 / 6, 4))
    assert {row["v"] for row in duplicates.samples} == {"a"}


def test_a_composite_primary_key_repeats_as_a_whole() -> None:
    import duckdb

    contract = Contract.model_validate(
        {
            "id": "x.t.t",
            "version": "1.0.0",
            "schema": [
                {
                    "name": "t",
                    "properties": [
                        {"name": "a", "logicalType": "integer", "primaryKey": True},
                        {"name": "b", "logicalType": "string", "primaryKey": True},
                    ],
                }
            ],
        }
    )
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'x'), (1, 'y'), (1, 'x'), (2, 'x')) v(a, b)"
    )
    target = conformance.Target("t", contract, {"a": "BIGINT", "b": "VARCHAR"})
    plan = conformance.primary_key_rule(target)
    query, keys = conformance.compile_query([plan], '"t"') or ("", [])
    [check] = plan.judge(dict(zip(keys, connection.execute(query).fetchone() or (), strict=True)))
    assert (check.observed, check.reason) == (1, "1 row repeats a key")
    assert check.samples == [{"a": 1, "b": "x"}]


def test_completeness_is_a_service_level_on_a_column_or_the_whole_table() -> None:
    sla = [
        {"property": "completeness", "value": 60, "unit": "percent", "element": "t.a"},
        {"property": "completeness", "value": 60, "element": "t"},
    ]
    column, table = run_rules(
        [{"name": "a", "logicalType": "integer"}, {"name": "b", "logicalType": "integer"}],
        "SELECT * FROM (VALUES (1, 1), (2, NULL), (NULL, 3), (4, 4), (5, 5)) v(a, b)",
        sla=sla,
    )
    assert (column.name, column.outcome, column.observed) == (
        "completeness a at least 60 %",
        Outcome.PASSED,
        80.0,
    )
    # 3 of 5 rows have both values: exactly the level
    assert (table.name, table.outcome, table.observed) == (
        "completeness t at least 60 %",
        Outcome.PASSED,
        60.0,
    )
    [short] = run_rules(
        [{"name": "a", "logicalType": "integer"}],
        "SELECT * FROM (VALUES (1), (NULL)) v(a)",
        sla=[{"property": "completeness", "value": 99, "element": "t.a"}],
    )
    assert (short.outcome, short.severity) == (Outcome.WARNED, "warning")  # it does not block
    assert short.reason == "observed 50.0 %, expected >= 99 %"


@pytest.mark.parametrize(
    ("level", "message", "field"),
    [
        (
            "{property: completeness, value: 101, unit: percent, element: targets.name}",
            "completeness of 101 'percent' is not a percentage",
            "slaProperties[0].value",
        ),
        (
            "{property: completeness, value: 99, unit: rows, element: targets.name}",
            "completeness of 99 'rows' is not a percentage",
            "slaProperties[0].unit",
        ),
        (
            "{property: completeness, value: 99, element: nickname}",
            "completeness is measured on 'nickname', which the contract does not declare",
            "slaProperties[0].element",
        ),
        (
            "{property: completeness, value: 99, element: targets.nickname}",
            "completeness is measured on 'targets.nickname', which the contract does not declare",
            "slaProperties[0].element",
        ),
    ],
)
def test_a_completeness_level_that_cannot_be_measured_is_an_issue(
    mesh: Mesh, source_product: Path, level: str, message: str, field: str
) -> None:
    add_to_contract(
        source_product / "contracts" / "targets.odcs.yaml", "slaProperties:\n", f"- {level}\n"
    )
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert (issue.message, issue.field) == (message, field)


def test_completeness_is_tracked_by_day_beside_freshness(mesh: Mesh, source_product: Path) -> None:
    add_to_contract(
        source_product / "contracts" / "targets.odcs.yaml",
        "slaProperties:\n",
        "- {property: completeness, value: 99, unit: percent, element: targets.name}\n",
    )
    [publication] = mesh.publish(source_product)
    assert checks_by_name(publication)["completeness name at least 99 %"].observed == 100.0
    [level] = mesh.describe("finance.targets").service_levels
    assert level.name == "targets: completeness name at least 99 %"
    assert (level.days_met, level.days_measured) == (1, 1)


def test_completeness_of_a_bare_column_name_is_that_column() -> None:
    [level] = run_rules(
        [{"name": "a", "logicalType": "integer"}, {"name": "b", "logicalType": "integer"}],
        "SELECT * FROM (VALUES (1, NULL), (2, NULL)) v(a, b)",
        sla=[{"property": "completeness", "value": 100, "element": "a"}],
    )
    assert (level.name, level.observed) == ("completeness a at least 100 %", 100.0)


def test_a_date_bound_not_written_as_iso_is_an_issue(mesh: Mesh, source_product: Path) -> None:
    add_to_contract(
        source_product / "contracts" / "targets.odcs.yaml",
        "    logicalType: timestamp\n",
        "    logicalTypeOptions: {minimum: '20260101'}\n",
    )
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert issue.message == "minimum '20260101' is not a date, and the column is timestamp"


@pytest.mark.parametrize("pattern", ["(" * 500 + "a" + ")" * 500, "a{99999999999}"])
def test_a_pattern_beyond_what_a_pattern_may_ask_is_a_problem(pattern: str) -> None:
    from quanta.model.contract import Contract
    from quanta.quality.parsing import parse_rules as compile_contract

    contract = Contract.model_validate(
        {
            "apiVersion": "v3.1.0",
            "kind": "DataContract",
            "id": "x.y.z",
            "version": "1.0.0",
            "schema": [
                {
                    "name": "z",
                    "properties": [
                        {
                            "name": "a",
                            "logicalType": "string",
                            "logicalTypeOptions": {"pattern": pattern},
                        }
                    ],
                }
            ],
        }
    )

    [problem] = compile_contract(contract).problems

    assert "pattern" in problem.message


def test_a_contract_with_more_columns_than_quanta_checks_is_a_problem() -> None:
    from quanta.model.contract import Contract
    from quanta.quality.parsing import MAX_COLUMNS
    from quanta.quality.parsing import parse_rules as compile_contract

    columns = [{"name": f"c{i}", "logicalType": "integer"} for i in range(MAX_COLUMNS + 1)]
    contract = Contract.model_validate(
        {
            "apiVersion": "v3.1.0",
            "kind": "DataContract",
            "id": "x.y.z",
            "version": "1.0.0",
            "schema": [{"name": "z", "properties": columns}],
        }
    )

    [problem] = compile_contract(contract).problems

    assert "at most 2,000 columns" in problem.message


def test_a_metric_a_plugin_registers_is_accepted_and_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def distinct_values(rule: metrics.LibraryRule) -> rules.QualityRule | rules.RuleProblem:
        if rule.arguments:
            return rule.problem("distinctValues takes no arguments", "remove them", "arguments")
        return rule.measured(table_sql=f"count(DISTINCT {rule.quoted})")

    monkeypatch.setitem(metrics.METRICS, "distinctValues", distinct_values)
    assert "distinctValues" in metrics.names()
    [check] = run_rules(
        [
            {
                "name": "s",
                "logicalType": "string",
                "quality": [{"metric": "distinctValues", "mustBeLessThan": 3}],
            }
        ],
        "SELECT * FROM (VALUES ('a'), ('b'), ('a'), (NULL)) v(s)",
    )
    assert (check.name, check.outcome, check.observed) == (
        "s distinctValues < 3",
        Outcome.PASSED,
        2,
    )
    refused = {"metric": "distinctValues", "arguments": {"x": 1}, "mustBe": 2}
    contract = Contract.model_validate(
        {
            "id": "x.t.t",
            "version": "1.0.0",
            "schema": [
                {
                    "name": "t",
                    "properties": [{"name": "s", "logicalType": "string", "quality": [refused]}],
                    "quality": [{"metric": "distinctValues", "mustBe": 2}],
                }
            ],
        }
    )
    # What every metric shares is checked for it; the rest is the plugin's own to refuse.
    assert [(p.loc, p.message) for p in parsing.parse_rules(contract).problems] == [
        (
            ("schema", 0, "properties", 0, "quality", 0, "arguments"),
            "distinctValues takes no arguments",
        ),
        (("schema", 0, "quality", 0), "distinctValues needs a column"),
    ]
