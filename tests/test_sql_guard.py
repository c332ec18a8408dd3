"""The SQL guard refuses, before anything runs, SQL that reads more than a product declared."""

from __future__ import annotations

import pytest

from quanta.build.sql_guard import SqlProblem, check_sql

# What a product with one file source and one upstream product may read.
VISIBLE = {("raw_items",), ("checkout", "orders"), ("orders",)}


def only_problem(sql: str, visible: set[tuple[str, ...]] = VISIBLE) -> SqlProblem:
    problems = check_sql(sql, visible)
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------------------------------------
# What passes


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM raw_items",
        "SELECT id, name FROM checkout.orders WHERE id > 1",
        'SELECT * FROM "raw_items"',
        "SELECT * FROM RAW_ITEMS r JOIN Checkout.Orders o ON r.id = o.id",
        "SELECT * FROM orders UNION ALL SELECT * FROM checkout.orders",
        "SELECT * FROM raw_items WHERE id IN (SELECT id FROM orders)",
        "FROM raw_items SELECT id",
    ],
)
def test_declared_names_pass(sql: str) -> None:
    assert check_sql(sql, VISIBLE) == []


def test_visible_names_are_compared_in_lowercase() -> None:
    assert check_sql("SELECT * FROM checkout.orders", {("Checkout", "Orders")}) == []


def test_cte_names_pass() -> None:
    sql = """
        WITH recent AS (SELECT * FROM raw_items WHERE updated_at > DATE '2026-01-01'),
             totals AS (SELECT category, sum(amount) AS amount FROM recent GROUP BY category)
        SELECT * FROM totals
    """

    assert check_sql(sql, VISIBLE) == []


def test_a_cte_does_not_hide_what_it_reads() -> None:
    problem = only_problem("WITH raw AS (SELECT * FROM secrets) SELECT * FROM raw")

    assert problem.message == "the SQL reads 'secrets', which is not declared"


def test_a_cte_name_does_not_make_a_qualified_name_readable() -> None:
    problem = only_problem("WITH items AS (SELECT 1) SELECT * FROM other.items")

    assert problem.message == "the SQL reads 'other.items', which is not declared"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM range(10)",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT r.range FROM raw_items, range(3) AS r",
    ],
)
def test_generators_read_no_data_and_pass(sql: str) -> None:
    assert check_sql(sql, VISIBLE) == []


def test_three_part_names_pass_when_declared() -> None:
    visible = {("lake", "checkout", "orders")}

    assert check_sql("SELECT * FROM lake.checkout.orders", visible) == []


# ---------------------------------------------------------------------------------------------
# What is refused


def test_an_undeclared_table_is_refused_with_its_line() -> None:
    sql = "SELECT r.id\nFROM raw_items AS r\nJOIN secrets AS s\n  ON s.id = r.id\n"

    problem = only_problem(sql)

    assert problem.message == "the SQL reads 'secrets', which is not declared"
    assert problem.line == 3
    assert problem.hint == (
        "declare it as an input port; readable here: checkout.orders, orders, raw_items"
    )


def test_every_undeclared_table_is_reported() -> None:
    sql = "SELECT *\nFROM first_secret\nJOIN raw_items USING (id)\nJOIN second_secret USING (id)"

    problems = check_sql(sql, VISIBLE)

    assert sorted((p.line, p.message) for p in problems) == [
        (2, "the SQL reads 'first_secret', which is not declared"),
        (4, "the SQL reads 'second_secret', which is not declared"),
    ]


def test_undeclared_table_in_a_subquery_is_refused() -> None:
    problem = only_problem("SELECT * FROM raw_items WHERE id IN (SELECT id FROM hidden)")

    assert problem.message == "the SQL reads 'hidden', which is not declared"


def test_the_hint_says_none_is_readable_when_nothing_is_declared() -> None:
    problem = only_problem("SELECT * FROM raw_items", set())

    assert problem.hint == "declare it as an input port; readable here: none"


def test_an_undeclared_three_part_name_is_refused_in_full() -> None:
    sql = "SELECT *\n\nFROM lake.checkout.payments"

    problem = only_problem(sql, {("lake", "checkout", "orders")})

    assert problem.message == "the SQL reads 'lake.checkout.payments', which is not declared"
    assert problem.line == 3


def test_a_declared_name_is_not_readable_under_another_catalog() -> None:
    problem = only_problem("SELECT * FROM other.checkout.orders")

    assert problem.message == "the SQL reads 'other.checkout.orders', which is not declared"


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
        ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "read_parquet"),
        ("SELECT * FROM read_json('x.json')", "read_json"),
        ("SELECT * FROM read_text('/etc/hostname')", "read_text"),
        ("SELECT * FROM glob('/etc/*')", "glob"),
    ],
)
def test_table_functions_that_read_files_are_refused(sql: str, function: str) -> None:
    problem = only_problem(sql)

    assert problem.message == f"reading through the table function {function}() is not allowed"
    assert problem.hint == "declare the file as a source input port and select from the port's name"
    assert problem.line == 1


def test_a_table_function_is_refused_at_its_line() -> None:
    problem = only_problem("SELECT *\nFROM raw_items,\n  read_csv('/etc/passwd')")

    assert problem.line == 3


@pytest.mark.parametrize(
    ("sql", "shown"),
    [
        ("SELECT * FROM '/tmp/x.csv'", "/tmp/x.csv"),
        ("SELECT * FROM 'items.parquet'", "items.parquet"),
        ("SELECT * FROM 'events.json'", "events.json"),
        ("SELECT * FROM 'data\\items'", "data\\items"),
    ],
)
def test_reading_a_file_by_its_name_is_refused_as_a_file_read(sql: str, shown: str) -> None:
    problem = only_problem(sql)

    assert problem.message == f"the SQL reads the file {shown!r} directly"
    assert problem.hint == "declare it as a source input port and select from the port's name"


def test_a_file_read_is_refused_at_its_line() -> None:
    problem = only_problem("SELECT *\nFROM raw_items\n\nJOIN '/tmp/x.csv' f USING (id)")

    assert problem.line == 4


@pytest.mark.parametrize("sql", ["SELECT 1; SELECT 2", "SELECT * FROM raw_items;\nDROP TABLE x"])
def test_two_statements_are_refused(sql: str) -> None:
    problem = only_problem(sql)

    assert problem.message == "a transformation must be exactly one SELECT statement, found 2"
    assert problem.hint == "keep a single query (CTEs are fine)"


def test_an_empty_query_is_refused() -> None:
    problem = only_problem("  -- nothing here\n")

    assert problem.message == "a transformation must be exactly one SELECT statement, found 0"


def test_the_purpose_is_named_in_the_message() -> None:
    problems = check_sql("SELECT 1; SELECT 2", VISIBLE, purpose="a quality check")

    assert problems[0].message.startswith("a quality check must be exactly one SELECT statement")


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY (SELECT * FROM raw_items) TO '/tmp/out.csv'", "COPY"),
        ("COPY raw_items FROM '/etc/passwd'", "COPY"),
        ("ATTACH '/tmp/other.db' AS other", "ATTACH"),
        ("INSERT INTO raw_items VALUES (1)", "INSERT"),
        ("CREATE TABLE x AS SELECT * FROM raw_items", "CREATE"),
        ("DESCRIBE secrets", "DESCRIBE"),
    ],
)
def test_statements_that_are_not_queries_are_refused(sql: str, kind: str) -> None:
    problem = only_problem(sql)

    assert problem.message == f"a transformation may only read data, but this statement is {kind}"
    assert problem.hint == "write a SELECT query"


@pytest.mark.parametrize(
    ("sql", "line"),
    [
        ("SELECT *\nFROM\n\nWHERE (", 4),
        ("SELECT *\nFROM (SELECT 1", 2),
        ("SELECT id,\n  name\nFROM raw_items\nWHERE id = = 1", 4),
    ],
)
def test_a_parse_error_is_reported_with_its_line(sql: str, line: int) -> None:
    problem = only_problem(sql)

    assert problem.message.startswith("the SQL does not parse: ")
    assert problem.hint == "fix the syntax near the marked place"
    assert problem.line == line


def test_a_cte_name_counts_only_inside_the_query_that_declares_it() -> None:
    # DuckDB would read the outer, undeclared name as a file path.
    sql = (
        'SELECT * FROM (WITH "/warehouse/t/data/x.parquet" AS (SELECT 1) SELECT 1) AS a, '
        '"/warehouse/t/data/x.parquet" AS o'
    )
    [problem] = check_sql(sql, [("raw_items",)])
    assert problem.message == "the SQL reads the file '/warehouse/t/data/x.parquet' directly"


def test_ctes_are_visible_in_nested_queries_and_later_ctes() -> None:
    sql = (
        "WITH a AS (SELECT 1 AS id), b AS (SELECT * FROM a) "
        "SELECT * FROM (SELECT * FROM b) AS x JOIN raw_items USING (id) "
        "WHERE id IN (SELECT id FROM a)"
    )
    assert check_sql(sql, [("raw_items",)]) == []
