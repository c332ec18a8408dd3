"""Column lineage of SQL transformations: which input columns each output column derives from,
and the classification it inherits from them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from quanta.build.lineage import ColumnSources, column_sources, inherited_levels
from quanta.model.contract import Contract
from quanta.model.product import DataProduct, Descriptor

ORDERS = ["order_id", "customer_id", "ordered_at", "status", "amount"]
INPUTS = {
    "customers": ["customer_id", "full_name", "email", "birth_date", "country", "tags"],
    "orders": ORDERS,
    "checkout.orders": ORDERS,  # the same port, under its product's name
    "sessions": ["session_id", "user_id", "started_at", "channel"],
}
EVERY_CUSTOMER_COLUMN = {f"customers.{column}" for column in INPUTS["customers"]}


def derived(sql: str, inputs: dict[str, list[str]] = INPUTS) -> dict[str, set[str]]:
    """Per output column, its sources as input.column; every output column followed."""
    sources = column_sources(sql, inputs)
    assert sources.complete, sources.reasons
    return {name: {f"{n}.{c}" for n, c in found} for name, found in sources.items()}


# ---------------------------------------------------------------------------------------------
# Following values


def test_each_output_column_names_what_it_is_computed_from_in_output_order() -> None:
    sql = """
        SELECT
            customer_id,
            lower(email) AS email,
            CAST(birth_date AS DATE) AS born,
            full_name || ' (' || country || ')' AS label,
            coalesce(email, full_name) AS contact,
            42 AS answer
        FROM customers
    """
    found = derived(sql)
    assert list(found) == ["customer_id", "email", "born", "label", "contact", "answer"]
    assert found == {
        "customer_id": {"customers.customer_id"},
        "email": {"customers.email"},
        "born": {"customers.birth_date"},
        "label": {"customers.full_name", "customers.country"},
        "contact": {"customers.email", "customers.full_name"},
        "answer": set(),
    }


def test_a_case_passes_on_its_conditions_as_well_as_its_values() -> None:
    sql = """
        SELECT CASE WHEN email LIKE '%@retail.example' THEN 'staff'
                    WHEN country = 'DE' THEN full_name
                    ELSE 'customer' END AS kind
        FROM customers
    """
    assert derived(sql) == {"kind": {"customers.email", "customers.country", "customers.full_name"}}


def test_ctes_aliases_and_subqueries_in_from_are_followed_to_the_inputs() -> None:
    sql = """
        WITH named AS (SELECT customer_id AS id, upper(full_name) AS who FROM customers),
             again AS (SELECT n.id, n.who AS person FROM named AS n)
        SELECT a.person, t.total
        FROM again AS a
        JOIN (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY 1) AS t
          ON t.customer_id = a.id
    """
    assert derived(sql) == {"person": {"customers.full_name"}, "total": {"orders.amount"}}


def test_columns_used_only_to_filter_group_or_order_pass_nothing_on() -> None:
    sql = """
        SELECT country, count(*) AS customers
        FROM customers
        WHERE email LIKE '%@mail.example' AND birth_date < DATE '2000-01-01'
        GROUP BY country, full_name
        HAVING max(birth_date) > DATE '1950-01-01'
        ORDER BY full_name
    """
    assert derived(sql) == {"country": {"customers.country"}, "customers": set()}


def test_a_join_key_that_becomes_an_output_derives_from_both_sides() -> None:
    using = "SELECT customer_id, c.full_name FROM orders JOIN customers AS c USING (customer_id)"
    assert derived(using)["customer_id"] == {"orders.customer_id", "customers.customer_id"}
    on = """
        SELECT o.customer_id, o.amount FROM orders AS o
        JOIN customers AS c ON c.customer_id = o.customer_id AND c.birth_date < o.ordered_at
    """
    assert derived(on) == {
        # equal to c.customer_id, so it reveals that column's values
        "customer_id": {"orders.customer_id", "customers.customer_id"},
        # the other condition only filters
        "amount": {"orders.amount"},
    }


def test_the_identity_maps_join_by_using() -> None:
    # The query of customer.identity_map's Python transformation, read as SQL.
    sql = """
        SELECT s.session_id, a.customer_id, a.user_id
        FROM sessions AS s
        JOIN raw_accounts AS a USING (user_id)
    """
    inputs = {
        "sessions": INPUTS["sessions"],
        "raw_accounts": ["customer_id", "user_id", "linked_at"],
    }
    assert derived(sql, inputs) == {
        "session_id": {"sessions.session_id"},
        "customer_id": {"raw_accounts.customer_id"},
        "user_id": {"raw_accounts.user_id", "sessions.user_id"},
    }


@pytest.mark.parametrize(
    ("aggregate", "passes"),
    [
        # counting: a number of rows, never a value
        ("count(*)", False),
        ("count(email)", False),
        ("count(DISTINCT email)", False),
        ("count_if(email LIKE '%x')", False),
        ("approx_count_distinct(email)", False),
        # picking values: they return one
        ("min(email)", True),
        ("max(email)", True),
        ("any_value(email)", True),
        ("first(email)", True),
        ("last(email)", True),
        ("arg_max(email, birth_date)", True),  # birth_date only picks the row
        ("min_by(email, birth_date)", True),
        ("mode(email)", True),
        ("string_agg(email, ', ')", True),
        ("list(email)", True),
        ("array_agg(email)", True),
        ("histogram(email)", True),
        # summarizing numbers: conservatively, a group of one row gives its value back
        ("sum(length(email))", True),
        ("avg(length(email))", True),
        ("stddev(length(email))", True),
        ("median(length(email))", True),
    ],
)
def test_aggregates_pass_on_by_family(aggregate: str, passes: bool) -> None:
    found = derived(f"SELECT country, {aggregate} AS value FROM customers GROUP BY country")
    assert found["value"] == ({"customers.email"} if passes else set())


def test_arg_max_passes_on_what_it_returns_not_what_it_orders_by() -> None:
    sql = "SELECT arg_max(birth_date, email) AS born, max_by(email, birth_date, 3) AS last_three"
    found = derived(f"{sql} FROM customers")
    assert found == {"born": {"customers.birth_date"}, "last_three": {"customers.email"}}


def test_an_aggregates_filter_and_order_pass_nothing_on() -> None:
    sql = """
        SELECT
            count(*) FILTER (WHERE email LIKE '%x') AS counted,
            string_agg(full_name, ',' ORDER BY email) AS names,
            max(country) FILTER (WHERE email LIKE '%x') AS last_country,
            mode() WITHIN GROUP (ORDER BY email) AS usual
        FROM customers
    """
    assert derived(sql) == {
        "counted": set(),
        "names": {"customers.full_name"},
        "last_country": {"customers.country"},
        # an ordered-set aggregate returns what it orders
        "usual": {"customers.email"},
    }


def test_a_window_passes_on_its_arguments_not_its_partition_or_order() -> None:
    sql = """
        SELECT
            order_id,
            row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at) AS nth,
            lag(amount) OVER (PARTITION BY customer_id ORDER BY ordered_at) AS previous,
            sum(amount) OVER w AS running,
            count(*) OVER w AS orders_so_far
        FROM orders
        WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at)
        QUALIFY nth <= 3
    """
    assert derived(sql) == {
        "order_id": {"orders.order_id"},
        "nth": set(),
        "previous": {"orders.amount"},
        "running": {"orders.amount"},
        "orders_so_far": set(),
    }


def test_the_latest_row_per_key_through_a_window_in_a_subquery() -> None:
    sql = """
        SELECT latest.email
        FROM (
            SELECT c.email,
                   row_number() OVER (PARTITION BY c.customer_id ORDER BY c.birth_date) AS rn
            FROM customers AS c
        ) AS latest
        WHERE latest.rn = 1
    """
    assert derived(sql) == {"email": {"customers.email"}}


def test_a_union_derives_from_each_branch_by_position_or_by_name() -> None:
    positional = """
        SELECT customer_id AS who, 'order' AS kind FROM orders
        UNION ALL SELECT user_id, channel FROM sessions
        UNION SELECT email, country FROM customers
    """
    assert derived(positional) == {
        "who": {"orders.customer_id", "sessions.user_id", "customers.email"},
        "kind": {"sessions.channel", "customers.country"},
    }
    by_name = """
        SELECT customer_id AS who, email AS contact FROM customers
        UNION ALL BY NAME SELECT session_id AS contact, user_id AS who FROM sessions
    """
    assert derived(by_name) == {
        "who": {"customers.customer_id", "sessions.user_id"},
        "contact": {"customers.email", "sessions.session_id"},
    }


def test_a_union_inside_a_cte() -> None:
    sql = """
        WITH people AS (
            SELECT customer_id AS id FROM customers UNION ALL SELECT user_id FROM sessions
        )
        SELECT id AS person FROM people
    """
    assert derived(sql) == {"person": {"customers.customer_id", "sessions.user_id"}}


def test_subqueries_in_expressions_pass_on_what_they_select() -> None:
    sql = """
        SELECT
            o.order_id,
            (SELECT max(c.email) FROM customers AS c WHERE c.customer_id = o.customer_id) AS email,
            o.customer_id IN (SELECT customer_id FROM customers WHERE country = 'DE') AS german,
            EXISTS (SELECT 1 FROM customers AS c WHERE c.full_name = o.status) AS named
        FROM orders AS o
        WHERE o.amount > (SELECT avg(amount) FROM orders)
    """
    assert derived(sql) == {
        "order_id": {"orders.order_id"},
        "email": {"customers.email"},
        "german": {"orders.customer_id", "customers.customer_id"},
        # EXISTS returns no value of the rows it looks for: a filter
        "named": set(),
    }


def test_a_star_expands_through_the_given_columns() -> None:
    assert derived("SELECT * FROM orders") == {f"{c}": {f"orders.{c}"} for c in ORDERS}
    found = derived(
        "SELECT * EXCLUDE (email) REPLACE (upper(full_name) AS full_name) FROM customers"
    )
    assert list(found) == ["customer_id", "full_name", "birth_date", "country", "tags"]
    joined = derived("SELECT o.*, c.email FROM orders AS o JOIN customers AS c USING (customer_id)")
    assert joined["amount"] == {"orders.amount"}
    assert joined["email"] == {"customers.email"}
    through_cte = derived("WITH x AS (SELECT email, country FROM customers) SELECT * FROM x")
    assert through_cte == {"email": {"customers.email"}, "country": {"customers.country"}}


def test_names_are_compared_in_any_case_and_spelled_as_written() -> None:
    inputs = {"Raw Customers": ["Customer Id", "E-Mail"], "sessions": ["Channel"]}
    sql = 'SELECT "CUSTOMER ID" AS "Id", "e-mail", CHANNEL FROM "raw customers", Sessions'
    assert derived(sql, inputs) == {
        "Id": {"Raw Customers.Customer Id"},
        "e-mail": {"Raw Customers.E-Mail"},
        "CHANNEL": {"sessions.Channel"},
    }
    assert derived('SELECT * FROM "RAW CUSTOMERS"', inputs) == {
        "Customer Id": {"Raw Customers.Customer Id"},
        "E-Mail": {"Raw Customers.E-Mail"},
    }
    # A contract's column is found in any case, as DuckDB matches names.
    sources = column_sources('SELECT "e-mail" AS Mail FROM "raw customers"', inputs)
    assert sources.of("MAIL") == {("Raw Customers", "E-Mail")}


def test_relations_are_read_by_every_name_the_build_gives_them() -> None:
    inputs = {
        "orders": ORDERS,
        "checkout.orders": ORDERS,
        "checkout.orders.orders": ORDERS,
        "identities": ["session_id", "customer_id"],
        "customer.identity_map.sessions": ["session_id", "customer_id"],
    }
    sql = """
        SELECT o.amount, orders.status, m.customer_id, i.session_id
        FROM checkout.orders.orders AS o, checkout.orders, customer.identity_map.sessions AS m,
             identities AS i
    """
    assert derived(sql, inputs) == {
        "amount": {"checkout.orders.orders.amount"},
        "status": {"checkout.orders.status"},
        "customer_id": {"customer.identity_map.sessions.customer_id"},
        "session_id": {"identities.session_id"},
    }


def test_column_aliases_of_a_relation_rename_by_position() -> None:
    assert derived("SELECT who, contact FROM customers AS c(who, name, contact)") == {
        "who": {"customers.customer_id"},
        "contact": {"customers.email"},
    }
    assert derived("SELECT x FROM (SELECT email FROM customers) AS t(x)") == {
        "x": {"customers.email"}
    }


def test_duckdb_syntax_sqlglot_reads_differently_is_still_followed() -> None:
    sql = """
        SELECT
            email.lower() AS method,
            c.full_name.upper().trim() AS chained,
            list_transform(tags, t -> t || country) AS lambda,
            [t FOR t IN tags IF t <> email] AS comprehension,
            {'who': full_name} AS struct,
            c AS whole_row
        FROM customers AS c
    """
    found = derived(sql)
    assert found["method"] == {"customers.email"}
    assert found["chained"] == {"customers.full_name"}
    assert found["lambda"] == {"customers.tags", "customers.country"}
    assert found["comprehension"] == {"customers.tags"}  # its IF only filters
    assert found["struct"] == {"customers.full_name"}
    assert found["whole_row"] == EVERY_CUSTOMER_COLUMN


def test_a_lateral_subquery_and_unnest_derive_from_what_they_read() -> None:
    sql = """
        SELECT c.customer_id, t.tag, l.last_order
        FROM customers AS c,
             unnest(c.tags) AS t(tag),
             LATERAL (SELECT max(o.ordered_at) AS last_order FROM orders AS o
                      WHERE o.customer_id = c.customer_id) AS l
    """
    assert derived(sql) == {
        "customer_id": {"customers.customer_id"},
        "tag": {"customers.tags"},
        "last_order": {"orders.ordered_at"},
    }


def test_a_recursive_cte_is_widened_to_all_it_reads() -> None:
    sql = """
        WITH RECURSIVE chain(a, b, depth) AS (
            SELECT customer_id, email, 0 FROM customers
            UNION ALL SELECT b, a, depth + 1 FROM chain WHERE depth < 2
        )
        SELECT a FROM chain
    """
    # a takes b's values on every other step: each column derives from both.
    assert derived(sql) == {"a": {"customers.customer_id", "customers.email"}}


# ---------------------------------------------------------------------------------------------
# What cannot be followed


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM customers PIVOT (count(*) FOR country IN ('DE', 'FR'))", "PIVOT"),
        ("SELECT * FROM customers UNPIVOT (value FOR key IN (email, full_name))", "PIVOT"),
        ("SELECT COLUMNS('e.*') FROM customers", "COLUMNS"),
        ("SELECT min(COLUMNS(*)) FROM customers", "COLUMNS"),
        ("SELECT * LIKE 'e%' FROM customers", "star"),
        ("SELECT u.* FROM customers, LATERAL unnest(tags) AS u", "star"),
        ("SELECT * FROM customers AS c, LATERAL unnest(c.tags)", "star"),
    ],
)
def test_what_names_no_columns_falls_back_to_every_column_read(sql: str, why: str) -> None:
    sources = column_sources(sql, INPUTS)
    assert not sources.complete
    assert sources.unnamed == {("customers", column) for column in INPUTS["customers"]}
    assert any(why in reason for reason in sources.reasons), sources.reasons
    assert sources.of("email") == sources.unnamed


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT #2 AS second FROM customers", "positional"),
        ("SELECT email AS second FROM customers PIVOT (count(*) FOR country IN ('DE'))", "PIVOT"),
        # sqlglot does not read DuckDB's blob literals
        ("SELECT email AS second, x'ff' AS marker FROM customers", "sqlglot cannot read"),
        ("SELECT nickname AS second FROM customers", "nickname"),
    ],
)
def test_a_column_that_cannot_be_followed_derives_from_every_column_read(
    sql: str, why: str
) -> None:
    sources = column_sources(sql, INPUTS)
    assert "second" in sources.unresolved
    assert sources["second"] == {("customers", column) for column in INPUTS["customers"]}
    assert any(why in reason for reason in sources.reasons), sources.reasons


def test_what_sqlglot_reads_unlike_duckdb_is_not_trusted() -> None:
    # DuckDB reads the column current_date where a relation has one; sqlglot reads the
    # function, which derives from nothing.
    inputs = {"events": ["current_date", "kind"]}
    sources = column_sources("SELECT current_date AS day, kind FROM events", inputs)
    assert sources.unresolved == {"day", "kind"}
    assert sources["day"] == {("events", "current_date"), ("events", "kind")}
    assert any("current_date" in reason for reason in sources.reasons)


def test_the_fallback_reads_only_the_inputs_the_query_reads() -> None:
    sql = "SELECT c.email, x'ff' AS marker FROM customers AS c JOIN orders USING (customer_id)"
    sources = column_sources(sql, INPUTS)
    assert sources.unresolved == {"email", "marker"}
    read = {name for found in sources.values() for name, _ in found}
    assert read == {"customers", "orders"}


def test_an_unnamed_expression_also_answers_for_the_name_duckdb_gives_it() -> None:
    sources = column_sources("SELECT customer_id, amount * 2 FROM orders", INPUTS)
    assert sources["customer_id"] == {("orders", "customer_id")}
    # DuckDB names it (amount * 2); whatever the contract calls it, it derives from amount.
    assert sources.of("(amount * 2)") == {("orders", "amount")}
    assert any("name it with AS" in reason for reason in sources.reasons)


def test_sql_that_does_not_parse_derives_from_everything() -> None:
    sources = column_sources("SELECT email FROM customers WHERE", INPUTS)
    assert sources == {}
    assert sources.unnamed == {(name, c) for name, columns in INPUTS.items() for c in columns}
    assert sources.reasons == ("DuckDB does not parse the SQL",)


def test_an_input_of_unknown_columns_is_not_read_as_one_without_columns() -> None:
    sources = column_sources("SELECT * FROM raw", {"raw": []})
    assert sources == {}
    assert not sources.complete


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM customers USING SAMPLE 10%",
        "SELECT email FROM customers LIMIT 10%",
        "SELECT e: email, n: full_name FROM customers",
        "SELECT tags[1] AS first, tags[-1:] AS rest, email->>'$.x' AS j FROM customers",
        "SELECT * FROM orders ASOF JOIN sessions ON orders.ordered_at >= sessions.started_at",
        "SELECT * FROM orders POSITIONAL JOIN sessions",
        "SELECT * FROM orders NATURAL JOIN customers",
        "SELECT * FROM customers SEMI JOIN orders USING (customer_id)",
        "SELECT * FROM generate_series(1, 3) AS g(n), customers",
        "SELECT * FROM range(3)",
        "FROM customers",
        "VALUES (1, 2)",
        "SELECT 1",
        "WITH RECURSIVE r(n) USING KEY (n) AS (SELECT 1 UNION SELECT n + 1 FROM r) SELECT n FROM r",
        "SELECT list_reduce(tags, (x, y) -> x || y) AS r FROM customers",
        "SELECT email FROM customers GROUP BY CUBE (email, country)",
        "SELECT email FROM customers WHERE email SIMILAR TO 'x' ESCAPE '#'",
        "SELECT customers FROM customers",
        "SELECT (SELECT list(x) FROM (SELECT unnest(tags) AS x)) AS l FROM customers",
    ],
)
def test_valid_product_sql_never_raises(sql: str) -> None:
    sources = column_sources(sql, INPUTS)
    assert isinstance(sources, ColumnSources)
    assert sources.complete or sources.reasons


# ---------------------------------------------------------------------------------------------
# Inherited levels


def test_an_output_inherits_the_strictest_level_of_what_it_derives_from() -> None:
    sources = {
        "contact": frozenset({("customers", "email"), ("customers", "country")}),
        "country": frozenset({("customers", "country")}),
        "note": frozenset({("customers", "note")}),
        "answer": frozenset(),
    }
    levels: dict[str, dict[str, str | None]] = {
        "Customers": {"EMAIL": "pii", "country": "internal", "note": None}
    }
    # note's source is unclassified and answer has none: neither inherits anything.
    assert inherited_levels(sources, levels) == {"contact": "pii", "country": "internal"}


def test_every_level_has_its_place_in_the_order() -> None:
    order = ["public", "internal", "confidential", "restricted", "pii", "pii-sensitive"]
    for stricter, looser in zip(order[1:], order, strict=False):
        sources = {"x": frozenset({("t", "a"), ("t", "b")})}
        assert inherited_levels(sources, {"t": {"a": looser, "b": stricter}}) == {"x": stricter}


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        inherited_levels({"x": frozenset({("t", "a")})}, {"t": {"a": "secret"}})


# ---------------------------------------------------------------------------------------------
# The example mesh

EXAMPLE = Path(__file__).parents[1] / "examples" / "retail"


def _products() -> dict[str, DataProduct]:
    """The example's products as their files declare them (their data files are generated
    when the example is built, so the folders do not validate as they are)."""
    products = {}
    for path in EXAMPLE.glob("*/*/dataproduct.yaml"):
        descriptor = Descriptor.model_validate(yaml.safe_load(path.read_text()))
        contracts = {
            contract.id: contract
            for file in (path.parent / "contracts").glob("*.odcs.yaml")
            for contract in [Contract.model_validate(yaml.safe_load(file.read_text()))]
        }
        by_port = {port.name: contracts[str(port.contract_id)] for port in descriptor.output_ports}
        products[descriptor.id] = DataProduct(
            descriptor=descriptor, contracts=by_port, folder=str(path.parent.resolve())
        )
    return products


def _source_columns() -> dict[str, list[str]]:
    """Each seeded source file's columns, by its path in the example."""
    example = yaml.safe_load((EXAMPLE / "example.yaml").read_text())
    columns = {}
    for seed in example["seeds"]:
        query = (EXAMPLE / seed["sql"]).read_text().strip().rstrip(";")
        described = duckdb.sql(f"DESCRIBE {query}").fetchall()
        columns[seed["to"]] = [str(row[0]) for row in described]
    return columns


def _inputs_of(
    product: DataProduct, products: dict[str, DataProduct], files: dict[str, list[str]]
) -> tuple[dict[str, list[str]], dict[str, dict[str, str | None]]]:
    """What the build exposes to ``product``'s SQL, under each of its names, and its levels."""
    inputs: dict[str, list[str]] = {}
    levels: dict[str, dict[str, str | None]] = {}
    folder = Path(product.folder).relative_to(EXAMPLE.resolve())
    for port in product.descriptor.input_ports:
        if port.source is not None:
            inputs[port.name] = files[f"{folder.as_posix()}/{port.source.path}"]
            continue
        address = port.upstream
        assert address is not None
        upstream = products[str(address.product)]
        ports = upstream.descriptor.output_ports
        port_name = address.port or ports[0].name
        contract = upstream.contracts[port_name]
        names = [port.name, f"{address.product}.{port_name}"]
        if len(ports) == 1:
            names.append(str(address.product))
        for name in names:
            inputs[name] = [column.name for column in contract.columns]
            levels[name] = {column.name: column.classification for column in contract.columns}
    return inputs, levels


@pytest.fixture(scope="module")
def example_lineage() -> dict[str, tuple[ColumnSources, dict[str, str]]]:
    products = _products()
    files = _source_columns()
    found = {}
    for product_id, product in products.items():
        if product.transformation.language != "sql":
            continue  # a Python transformation: its descriptor tells instead
        sql = (Path(product.folder) / product.transformation.path).read_text()
        inputs, levels = _inputs_of(product, products, files)
        sources = column_sources(sql, inputs)
        found[product_id] = (sources, inherited_levels(sources, levels))
    return found


def _flat(sources: ColumnSources) -> dict[str, set[str]]:
    return {name: {f"{n}.{c}" for n, c in found} for name, found in sources.items()}


def test_the_example_meshs_sql_transformations_are_all_followed(
    example_lineage: dict[str, tuple[ColumnSources, dict[str, str]]],
) -> None:
    assert set(example_lineage) == {
        "checkout.orders",
        "customer.profiles",
        "web.sessions",
        "sales.daily_revenue",
        "marketing.attribution",
    }
    for sources, _ in example_lineage.values():
        assert sources.complete, sources.reasons


def test_customer_profiles_email_derives_from_the_raw_email(
    example_lineage: dict[str, tuple[ColumnSources, dict[str, str]]],
) -> None:
    sources, inherited = example_lineage["customer.profiles"]
    assert _flat(sources) == {
        "customer_id": {"raw_customers.customer_id"},
        "full_name": {"raw_customers.full_name"},
        "email": {"raw_customers.email"},
        "birth_date": {"raw_customers.birth_date"},
        "country": {"raw_customers.country"},
        "registered_at": {"raw_customers.registered_at"},
    }
    assert inherited == {}  # a source file has no contract to classify it


def test_marketing_attribution_derives_from_orders_and_sessions(
    example_lineage: dict[str, tuple[ColumnSources, dict[str, str]]],
) -> None:
    sources, inherited = example_lineage["marketing.attribution"]
    assert _flat(sources) == {
        "day": {"checkout.orders.ordered_at"},
        # through the touches CTE: the identity map only joins
        "channel": {"web.sessions.channel"},
        "orders": set(),  # count(*)
        "revenue": {"checkout.orders.amount"},
    }
    # day is declared public, but computed from an internal timestamp.
    assert inherited == {"day": "internal", "channel": "public", "revenue": "internal"}


def test_sales_daily_revenue_counts_customers_without_their_ids(
    example_lineage: dict[str, tuple[ColumnSources, dict[str, str]]],
) -> None:
    sources, inherited = example_lineage["sales.daily_revenue"]
    assert _flat(sources) == {
        "day": {"checkout.orders.ordered_at"},
        "currency": {"checkout.orders.currency"},
        "orders": set(),
        "customers": set(),  # count(DISTINCT customer_id)
        "revenue": {"checkout.orders.amount"},
    }
    assert inherited == {"day": "internal", "currency": "public", "revenue": "internal"}


@pytest.mark.parametrize(
    ("product", "source"), [("checkout.orders", "raw_orders"), ("web.sessions", "raw_sessions")]
)
def test_source_aligned_products_pass_their_files_columns_through(
    example_lineage: dict[str, tuple[ColumnSources, dict[str, str]]], product: str, source: str
) -> None:
    sources, _ = example_lineage[product]
    assert _flat(sources) == {name: {f"{source}.{name}"} for name in sources}
