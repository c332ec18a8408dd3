"""What SQL may call: allowed by name, in every position, with DuckDB's own parser deciding.

An earlier guard inspected table nodes only: ``LATERAL read_text(...)`` (and ``JOIN
LATERAL``, ``CROSS JOIN LATERAL``, ``FROM LATERAL``) passed it, and so did 90 of the 91
table functions of DuckDB 1.5.5 written that way, and scalar functions that read the
engine's state (``current_setting('allowed_directories')`` shows absolute folders).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import pytest

from quanta.build.sql_columns import reads_any
from quanta.build.sql_functions import ALLOWED, TABLE_FUNCTIONS
from quanta.build.sql_guard import check_sql
from quanta.errors import QueryRefused
from quanta.mesh import Mesh
from quanta.model.result import Outcome

VISIBLE = {("raw_items",), ("t",), ("checkout", "orders")}

# Every place a table function can stand in a query.
TABLE_POSITIONS = (
    "SELECT * FROM {f}",
    "SELECT * FROM LATERAL {f}",
    "SELECT * FROM raw_items, {f}",
    "SELECT * FROM raw_items, LATERAL {f}",
    "SELECT * FROM raw_items JOIN LATERAL {f} ON true",
    "SELECT * FROM raw_items CROSS JOIN LATERAL {f}",
    "SELECT * FROM raw_items LEFT JOIN {f} ON true",
    "SELECT * FROM raw_items WHERE id IN (SELECT * FROM {f})",
    "SELECT (SELECT count(*) FROM {f}) FROM raw_items",
    "WITH a AS (SELECT * FROM {f}) SELECT * FROM a",
    "SELECT * FROM raw_items UNION ALL SELECT * FROM {f}",
    "SELECT * FROM (SELECT * FROM (SELECT * FROM {f}))",
    "SELECT * FROM raw_items WHERE EXISTS (FROM {f})",
    "SELECT * FROM raw_items AS r, LATERAL (SELECT * FROM {f} WHERE r.id > 0)",
    "SELECT * FROM system.main.{f}",
)

# Every place a scalar or aggregate function can stand.
SCALAR_POSITIONS = (
    "SELECT {f} FROM raw_items",
    "SELECT * FROM raw_items WHERE {f} IS NULL",
    "SELECT * FROM raw_items ORDER BY {f}",
    "SELECT id FROM raw_items GROUP BY id HAVING {f} IS NULL",
    "SELECT * FROM raw_items JOIN checkout.orders o ON {f} IS NULL",
    "SELECT list_transform([1], x -> {f}) FROM raw_items",
    "SELECT CASE WHEN id = 1 THEN {f} END FROM raw_items",
    "SELECT sum(id) FILTER (WHERE {f} IS NULL) FROM raw_items",
    "SELECT row_number() OVER (ORDER BY {f}) FROM raw_items",
    "SELECT * FROM raw_items QUALIFY {f} IS NULL",
    "SELECT * FROM range(1) r(n), LATERAL (SELECT {f})",
    "SELECT * FROM raw_items LIMIT {f}",
    "SELECT * FROM raw_items AT (VERSION => {f})",
    "WITH c AS (SELECT {f} AS v) SELECT * FROM c",
)


@pytest.fixture(scope="module")
def engine_functions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """DuckDB 1.5.5's functions by kind, with the extensions Quanta loads (iceberg, avro)."""
    with Mesh.open(tmp_path_factory.mktemp("functions") / "home") as mesh:
        connection = mesh.engine.connect(iceberg=True)  # type: ignore[attr-defined]
        rows = connection.execute(
            "SELECT DISTINCT function_name, function_type FROM duckdb_functions()"
        ).fetchall()
        connection.close()
    kinds: dict[str, set[str]] = {}
    for name, kind in rows:
        kinds.setdefault(kind, set()).add(name.lower())
    return kinds


def messages(sql: str) -> list[str]:
    return [problem.message for problem in check_sql(sql, VISIBLE)]


def test_every_table_function_but_the_generators_is_refused_in_every_position(
    engine_functions: dict[str, set[str]],
) -> None:
    table_functions = engine_functions["table"] | engine_functions["table_macro"]
    assert {"read_text", "glob", "query", "iceberg_metadata", "read_avro"} <= table_functions
    passed = []
    for name in sorted(table_functions - TABLE_FUNCTIONS):
        for position in TABLE_POSITIONS:
            sql = position.format(f=f"{name}('x')")
            if f"the table function {name}() is not allowed" not in " ".join(messages(sql)):
                passed.append(sql)
    assert passed == []


@pytest.mark.parametrize("position", TABLE_POSITIONS[:-1])
def test_generators_pass_in_every_position(position: str) -> None:
    for generator in ("range(3)", "generate_series(1, 3)", "unnest([1, 2])"):
        assert messages(position.format(f=generator)) == []


def test_every_function_not_allowed_is_refused_in_every_position(
    engine_functions: dict[str, set[str]],
) -> None:
    callable_names = engine_functions["scalar"] | engine_functions["aggregate"]
    refused = sorted((callable_names | engine_functions["macro"]) - ALLOWED)
    assert {"current_setting", "getvariable", "json_serialize_plan", "error"} <= set(refused)
    passed = []
    for name in refused:
        call = f'"{name}"(1)' if not name.replace("_", "").isalnum() else f"{name}(1)"
        for position in SCALAR_POSITIONS:
            sql = position.format(f=call)
            found = " ".join(messages(sql))
            if "is not allowed" not in found and "qualified name" not in found:
                passed.append(sql)
    assert passed == []


def test_the_allow_list_names_only_functions_duckdb_has(
    engine_functions: dict[str, set[str]],
) -> None:
    known = set().union(*engine_functions.values())
    assert ALLOWED - known == set()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT upper(name), length(name) + 1, coalesce(id, 0), id::VARCHAR FROM raw_items",
        "SELECT list_transform([1, 2], x -> x + 1), [x * 2 FOR x IN [1, 2]], {'a': 1}",
        "SELECT date_trunc('day', now()), strftime(current_date, '%Y'), INTERVAL 1 DAY",
        "SELECT count(*), sum(id), approx_count_distinct(id), string_agg(name, ',') FROM raw_items",
        "SELECT row_number() OVER (PARTITION BY id ORDER BY name) FROM raw_items",
        "SELECT name LIKE 'a%', name ILIKE 'a%', name SIMILAR TO 'a.*', name GLOB 'a*' FROM t",
        "SELECT regexp_matches(name, '^a'), name COLLATE nocase FROM raw_items",
        "SELECT * FROM raw_items PIVOT (count(*) FOR name IN ('a', 'b'))",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) FROM r",
        "SELECT system.main.upper('x'), main.lower('Y')",
        "SELECT * FROM t ORDER BY id DESC NULLS LAST, name ASC NULLS FIRST LIMIT 5 OFFSET 1",
        "SELECT DISTINCT ON (id) * FROM t ORDER BY id, name DESC",
        "SELECT row_number() OVER (PARTITION BY id ORDER BY name DESC) FROM t QUALIFY true",
        "SELECT string_agg(name, ',' ORDER BY name DESC) FROM t GROUP BY ALL ORDER BY ALL DESC",
        "SELECT sum(id) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT id, count(*) FROM t GROUP BY GROUPING SETS ((id), ()) ORDER BY 1 DESC",
        "SELECT * FROM t USING SAMPLE reservoir(50 ROWS) REPEATABLE (100)",
        "SELECT * EXCLUDE (id) REPLACE (upper(name) AS name) FROM t",
        "SELECT * FROM t UNION BY NAME SELECT * FROM raw_items EXCEPT ALL SELECT * FROM t",
        "SELECT * FROM (VALUES (1, 'a')) v(x, y), generate_series(1, 3, 1) g(n)",
        "SELECT a::STRUCT(x INT, y VARCHAR)[], a::MAP(VARCHAR, INT), a::DECIMAL(10, 2) FROM t",
    ],
)
def test_ordinary_sql_passes(sql: str) -> None:
    assert messages(sql) == []


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT pg_catalog.pg_get_viewdef('raw_items')", "pg_get_viewdef() is not allowed"),
        ("SELECT raw_items.name.current_setting() FROM raw_items", "is not allowed"),
        ("SELECT current_setting('allowed_directories')", "current_setting() is not allowed"),
        ("SELECT $1", "a parameter"),
        ("SELECT * FROM (DESCRIBE raw_items)", "DESCRIBE, SHOW and SUMMARIZE are not allowed"),
        ("CHECKPOINT", "this statement is CHECKPOINT"),
        ("LOAD httpfs", "this statement is LOAD"),
        ("PRAGMA version", "this statement is PRAGMA"),
        ("EXPLAIN SELECT 1", "this statement is EXPLAIN"),
        ("SUMMARIZE raw_items", "this statement is SUMMARIZE"),
        ("PIVOT raw_items ON name USING count(*)", "this statement is PIVOT"),
        ("-- a comment first\nSET threads = 1", "this statement is SET"),
        ("SELECT id,, FROM raw_items", "the SQL does not parse"),
    ],
)
def test_what_is_refused_is_named(sql: str, words: str) -> None:
    assert any(words in message for message in messages(sql)), messages(sql)


def test_a_syntax_error_after_non_ascii_text_has_the_right_line() -> None:
    [problem] = check_sql("-- café, naïve, ß\nSELECT 'é',\n  id,,\nFROM raw_items", VISIBLE)
    assert problem.line == 3


def test_a_query_cannot_read_files_through_lateral(demo: Mesh) -> None:
    with pytest.raises(QueryRefused, match=r"the table function read_text\(\) is not allowed"):
        demo.query("SELECT * FROM sales.daily_revenue, LATERAL read_text('/etc/hostname')")
    with pytest.raises(QueryRefused, match=r"current_setting\(\) is not allowed"):
        demo.query("SELECT current_setting('allowed_directories') AS d")


def test_a_transformation_with_lateral_is_refused_at_validate_and_publish(
    mesh: Mesh, source_product: Path
) -> None:
    (source_product / "transform.sql").write_text(
        "SELECT CAST(id AS BIGINT) AS id, content AS name, category,\n"
        "  CAST(amount AS DECIMAL(12, 2)) AS amount, CAST(updated_at AS TIMESTAMP) AS updated_at\n"
        "FROM raw_items\n  CROSS JOIN LATERAL read_text('/etc/hostname')\n"
    )

    [validation] = mesh.validate(source_product)
    [publication] = mesh.publish(source_product)

    [issue] = validation.issues
    assert issue.line == 4
    assert "read_text() is not allowed" in issue.message
    assert publication.outcome == Outcome.FAILED
    assert mesh.products() == []


def test_a_sql_rule_with_lateral_is_refused_at_validate(mesh: Mesh, source_product: Path) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    text = contract.read_text()
    rule = (
        "  quality:\n  - type: sql\n    query: SELECT count(*) FROM ${table}, "
        "LATERAL glob('/etc/*')\n    mustBe: 0\n"
    )
    contract.write_text(text.replace("  properties:\n", rule + "  properties:\n", 1))

    [validation] = mesh.validate(source_product)

    assert any("glob() is not allowed" in issue.message for issue in validation.issues)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT max(EMAIL) FROM __this",
        'SELECT max("Email") FROM __this',
        "SELECT max(x) FROM __this AS t(a, x)",
        "SELECT max(COLUMNS('^birth')) FROM __this",
        "SELECT max(t) FROM __this AS t",
        "SELECT max(__this) FROM __this",
        "SELECT max(e) FROM (SELECT email AS e FROM __this)",
        "WITH c(a, b) AS (SELECT * FROM __this) SELECT max(b) FROM c",
        "SELECT count(*) FROM __this WHERE email LIKE 'a%'",
        "SELECT max(t.email) FROM __this t",
        "SELECT max(s.v) FROM (SELECT * FROM __this) s(k, v)",
        "SELECT max(#2) FROM __this",
    ],
)
def test_a_rule_that_may_read_a_private_column_is_known_to(sql: str) -> None:
    assert reads_any(sql, {"email", "birth_date"})


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM __this",
        "SELECT max(amount) FROM __this WHERE status = 'shipped'",
        "SELECT count(*) FROM __this t WHERE t.amount > 10",
    ],
)
def test_a_rule_that_reads_no_private_column_is_known_not_to(sql: str) -> None:
    assert not reads_any(sql, {"email", "birth_date"})


def test_the_guard_parses_with_the_pinned_duckdb() -> None:
    assert duckdb.__version__ == "1.5.5"


def test_a_stored_rule_the_guard_now_refuses_is_an_error_and_is_not_run(
    mesh: Mesh, source_product: Path
) -> None:
    # A version published by an older Quanta, whose guard let LATERAL through.
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED
    catalog = sqlite3.connect(mesh.home / "catalog.db")
    [(stored,)] = catalog.execute("SELECT contract FROM ports").fetchall()
    contract = json.loads(stored)
    contract["schema"][0]["quality"] = [
        {
            "type": "sql",
            "query": "SELECT count(*) FROM ${table}, LATERAL read_text('/etc/hostname')",
            "mustBe": 0,
        }
    ]
    with catalog:
        catalog.execute("UPDATE ports SET contract = ?", [json.dumps(contract)])
    catalog.close()

    [run] = mesh.check("finance.targets")

    [error] = [check for check in run.checks if check.outcome == Outcome.ERROR]
    assert "read_text() is not allowed" in error.reason
    assert run.outcome == Outcome.ERROR


@pytest.mark.parametrize(
    "sql",
    [
        # The anchor of a recursive CTE is bound before the CTE exists: its name there is
        # any relation (a system view) or a file path.
        "WITH RECURSIVE pg_settings AS (SELECT name, setting FROM pg_settings "
        "UNION ALL SELECT NULL, NULL WHERE false) SELECT * FROM pg_settings",
        "WITH RECURSIVE duckdb_views AS (SELECT sql FROM duckdb_views UNION ALL "
        "SELECT NULL WHERE false) SELECT * FROM duckdb_views",
        'WITH RECURSIVE "/etc/x.csv" AS (SELECT * FROM "/etc/x.csv" UNION ALL SELECT 1) '
        'SELECT * FROM "/etc/x.csv"',
        "WITH RECURSIVE r AS (SELECT * FROM (SELECT * FROM r) UNION ALL SELECT 1) FROM r",
        # DuckDB folds ASCII letters only: the Kelvin sign is no k to it.
        'WITH "/data/\u212a.csv" AS (SELECT 1 AS x) SELECT count(*) FROM "/data/k.csv"',
        'WITH "\u03a3" AS (SELECT 1 AS x) SELECT * FROM "\u03c3"',
    ],
)
def test_a_name_that_is_no_cte_where_it_stands_is_refused(sql: str) -> None:
    assert any("not declared" in m or "directly" in m for m in messages(sql)), messages(sql)


def test_the_recursive_part_of_a_recursive_cte_reads_the_cte() -> None:
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) FROM r"
    assert messages(sql) == []


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + " + ".join(["email"] * 1200) + " FROM __this",
        "SELECT " + "upper(" * 1200 + "email" + ")" * 1200 + " FROM __this",
        "SELECT 1 IN (" + ",".join(["1"] * 150_000) + ")",
    ],
)
def test_sql_too_deep_or_too_long_to_check_is_refused_not_a_traceback(sql: str) -> None:
    [problem] = check_sql(sql, VISIBLE)
    assert any(
        words in problem.message for words in ("too deeply", "over the limit", "depth limit")
    ), problem.message
    assert reads_any(sql, {"email"})  # what cannot be read may read anything


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + " + ".join(["email"] * 400) + " FROM __this",
        "SELECT " + "upper(" * 400 + "email" + ")" * 400 + " FROM __this",
    ],
)
def test_sql_as_deep_as_duckdb_takes_is_checked(sql: str) -> None:
    assert check_sql(sql, [("__this",)]) == []
    assert reads_any(sql, {"email"})


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM __this NATURAL JOIN (SELECT 'a@mail.example' AS email)",
        "SELECT count(*) FROM __this ASOF JOIN (SELECT 'c' AS email) USING (email)",
        "SELECT count(*) FROM __this SEMI JOIN (SELECT 'c' AS email) USING (email)",
        "SELECT count(*) FROM (UNPIVOT __this ON email INTO NAME k VALUE v)",
    ],
)
def test_a_join_by_name_reads_the_columns_it_compares(sql: str) -> None:
    assert reads_any(sql, {"email"})


@pytest.mark.parametrize(
    "sql",
    ["SELECT count(*) FROM __this USING SAMPLE 10", "SELECT count(*) FROM __this TABLESAMPLE 10%"],
)
def test_a_sample_clause_reads_no_column(sql: str) -> None:
    assert messages(sql.replace("__this", "raw_items")) == []
    assert not reads_any(sql, {"email"})


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("WITH a AS (SELECT 1) INSERT INTO x SELECT * FROM a", "this statement is INSERT"),
        ("SELECT a FROM t WHERE a SIMILAR TO 'x' ESCAPE '#'", "Quanta cannot check this query"),
    ],
)
def test_a_statement_is_named_by_what_it_is(sql: str, words: str) -> None:
    assert any(words in message for message in messages(sql)), messages(sql)


def test_checking_sql_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # sqlglot, which the guard used before, warned on stderr about syntax it did not know.
    for sql in ("LOAD httpfs", "CHECKPOINT", "SELECT * FROM t PIVOT (count(*) FOR id IN (1))"):
        check_sql(sql, VISIBLE)
    from quanta.interop import _name_rows

    _name_rows("LOAD httpfs", "orders")
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


@pytest.mark.parametrize(
    "sql",
    [
        # A function called on a column: DuckDB parses the column as the function's schema.
        "SELECT name.lower(), t.name.len(), name.split(' ')[1].upper() FROM t",
        "SELECT * FROM t WHERE t.name.contains('x') AND NOT name.starts_with('y')",
        "SELECT l.apply(x -> x * 2) FROM (SELECT [1, 2] AS l)",
        # Parameterised types inside nested ones serialize only in the newest format.
        "SELECT NULL::ENUM('a', 'b')[], {'s': 'a'}::STRUCT(s ENUM('a', 'b'))",
        "SELECT 1::UNION(e ENUM('a'), n INT), MAP {'a': 'a'}::MAP(VARCHAR, ENUM('a', 'b'))",
        # USING KEY recursive CTEs read their own rows as recurring.<name>.
        "WITH RECURSIVE r(k, v) USING KEY (k) AS (SELECT 1, 1 UNION "
        "SELECT k, v + 1 FROM recurring.r WHERE v < 3) SELECT * FROM r",
        # Table functions that compute on their arguments only.
        "SELECT * FROM json_each('{\"a\": 1}'), json_tree('[1]'), repeat(1, 3)",
        "SELECT * FROM repeat_row(1, 'x', num_rows := 3)",
        "SELECT name FROM pg_timezone_names() WHERE name LIKE 'Europe/%'",
        "SELECT variant_extract({'a': 1}::VARIANT, 'a'), variant_typeof({'a': 1}::VARIANT)",
        # A line builder of 125 columns.
        "SELECT " + " || ',' || ".join(f"c{i}" for i in range(125)) + " FROM t",
    ],
)
def test_sql_ordinary_users_write_passes(sql: str) -> None:
    assert messages(sql) == []


def test_recurring_is_no_name_outside_a_recursive_cte() -> None:
    assert any("recurring.r" in m for m in messages("SELECT * FROM recurring.r"))
    anchor = (
        "WITH RECURSIVE r(k) USING KEY (k) AS (SELECT * FROM recurring.r UNION SELECT 1) FROM r"
    )
    assert any("recurring.r" in m for m in messages(anchor))


def test_a_function_called_on_a_private_column_reads_it() -> None:
    assert reads_any("SELECT max(email.lower()) FROM __this", {"email"})
    assert reads_any("SELECT max(t.email.lower()) FROM __this AS t", {"email"})


@pytest.mark.parametrize(
    ("sql", "width"),
    [
        ("WITH c AS (SELECT count(*) AS n FROM __this) SELECT * FROM c", 1),
        ("SELECT * FROM (SELECT count(*) FROM __this)", 1),
        ("SELECT * FROM __this", None),
        ("SELECT * FROM (SELECT 1, 2)", 2),
        ("SELECT count(*) FROM __this UNION ALL SELECT 0", 1),
        ("SELECT 1, 2 UNION SELECT 3, 4 EXCEPT SELECT 5, 6", 2),
        ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r", 1),
    ],
)
def test_a_rule_returning_star_over_one_value_returns_one_value(sql: str, width: int) -> None:
    from quanta.build.sql_columns import selected_width

    assert selected_width(sql) == width
