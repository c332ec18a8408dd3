"""``quanta contract test`` on data in a database: a DuckDB file, a SQLite file and
PostgreSQL, each opened read-only, with the same checks and verdicts as files."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import UserError
from quanta.model.result import Outcome
from quanta.quality.external import Server, conninfo, run_contract_test

runner = CliRunner()

SCHEMA = """
schema:
  - name: orders
    physicalName: {table}
    physicalType: table
    properties:
      - {{name: order_id, logicalType: integer, physicalType: BIGINT, required: true,
          unique: true}}
      - name: status
        logicalType: string
        quality:
          - {{metric: invalidValues, arguments: {{validValues: [paid, refunded]}}, mustBe: 0}}
      - {{name: amount, logicalType: number, logicalTypeOptions: {{minimum: 0}}}}
      - {{name: placed, logicalType: string, required: true}}
    quality:
      - {{metric: rowCount, mustBeGreaterThan: 0}}
      - type: sql
        query: SELECT count(*) FROM orders o JOIN customers c ON o.order_id = c.order_id
        mustBe: 0
  - name: customers
    physicalType: table
    properties:
      - {{name: order_id, logicalType: integer}}
"""

ROWS = [(1, "paid", 10.0), (2, "paid", 5.5), (3, "refunded", 7.0)]
PLANTED = [(1, "paid", 10.0), (1, "lost", -1.0), (3, "refunded", 7.0)]


def contract(folder: Path, server: str, table: str = "orders") -> Path:
    path = folder / "orders.odcs.yaml"
    path.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: shop.orders\nversion: 1.0.0\n"
        f"status: active\nservers:\n  - {server}\n" + SCHEMA.format(table=table)
    )
    return path


def duckdb_file(folder: Path, rows: list[tuple[int, str, float]]) -> None:
    with duckdb.connect(str(folder / "shop.duckdb")) as connection:
        connection.execute("CREATE SCHEMA sales")
        connection.execute(
            "CREATE TABLE sales.orders (order_id BIGINT, status VARCHAR, amount DOUBLE)"
        )
        connection.executemany("INSERT INTO sales.orders VALUES (?, ?, ?)", rows)
        connection.execute("CREATE TABLE sales.customers (order_id BIGINT)")


def sqlite_file(folder: Path, rows: list[tuple[int, str, float]]) -> None:
    connection = sqlite3.connect(folder / "shop.sqlite")
    connection.execute("CREATE TABLE orders (order_id INTEGER, status TEXT, amount REAL)")
    connection.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
    connection.execute("CREATE TABLE customers (order_id INTEGER)")
    connection.commit()
    connection.close()


def postgresql(rows: list[tuple[int, str, float]], database: str) -> None:
    with psycopg.connect(dbname=database, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA sales")
        connection.execute(
            "CREATE TABLE sales.orders (order_id bigint, status text, amount numeric(10,2))"
        )
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO sales.orders VALUES (%s, %s, %s)", rows)
        connection.execute("CREATE TABLE sales.customers (order_id bigint)")


@pytest.fixture
def pg_database(postgresql_url: str) -> str:
    return postgresql_url.rsplit("/", 1)[1]


Make = Callable[[Path, list[tuple[int, str, float]]], str]


@pytest.fixture(params=["duckdb", "sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Make:
    """Writes the rows into a database of one kind; answers the contract's server entry."""
    if request.param == "duckdb":

        def make(folder: Path, rows: list[tuple[int, str, float]]) -> str:
            duckdb_file(folder, rows)
            return "{server: db, type: duckdb, database: shop.duckdb, schema: sales}"

    elif request.param == "sqlite":

        def make(folder: Path, rows: list[tuple[int, str, float]]) -> str:
            sqlite_file(folder, rows)
            return "{server: db, type: sqlite, database: shop.sqlite}"

    else:
        name = request.getfixturevalue("pg_database")

        def make(folder: Path, rows: list[tuple[int, str, float]]) -> str:
            postgresql(rows, name)
            host, port = os.environ["PGHOST"], os.environ["PGPORT"]
            return (
                f"{{server: db, type: postgres, host: '{host}', port: {port}, "
                f"database: {name}, schema: sales}}"
            )

    return make


def outcomes(path: Path) -> dict[str, Outcome]:
    return {check.name: check.outcome for check in run_contract_test(path).checks}


def test_clean_data_in_a_database_passes(tmp_path: Path, database: Make) -> None:
    found = outcomes(contract(tmp_path, database(tmp_path, ROWS)))
    assert found["order_id unique"] is Outcome.PASSED
    assert found["status invalidValues = 0"] is Outcome.PASSED
    # The table lacks the required column placed: that, and nothing else, fails.
    failed = {name for name, outcome in found.items() if outcome is not Outcome.PASSED}
    assert failed == {"column placed exists", "column placed not null"}


def test_planted_violations_in_a_database_fail_and_every_other_check_runs(
    tmp_path: Path, database: Make
) -> None:
    path = contract(tmp_path, database(tmp_path, PLANTED))
    result = run_contract_test(path)
    found = {check.name: check for check in result.checks}
    assert found["order_id unique"].outcome is Outcome.FAILED
    assert found["status invalidValues = 0"].outcome is Outcome.FAILED
    assert found["status invalidValues = 0"].observed == 1
    assert found["amount >= 0"].outcome is Outcome.FAILED
    # The column the table lacks is reported once, and the rule on it is skipped with why.
    assert found["column placed exists"].outcome is Outcome.FAILED
    assert found["column placed not null"].outcome is Outcome.SKIPPED
    assert found["rowCount > 0"].outcome is Outcome.PASSED
    assert result.outcome is Outcome.FAILED
    cli = runner.invoke(app, ["contract", "test", str(path)])
    assert cli.exit_code == 1, cli.output


def test_a_rule_joining_two_tables_of_the_contract_runs(tmp_path: Path, database: Make) -> None:
    found = outcomes(contract(tmp_path, database(tmp_path, ROWS)))
    [joined] = [name for name in found if name.startswith("sql = 0")]
    assert found[joined] is Outcome.PASSED


def test_the_physical_name_names_the_table(tmp_path: Path) -> None:
    duckdb_file(tmp_path, ROWS)
    server = "{server: db, type: duckdb, database: shop.duckdb, schema: sales}"
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as connection:
        connection.execute("ALTER TABLE sales.orders RENAME TO orders_v2")
    found = outcomes(contract(tmp_path, server, table="orders_v2"))
    assert found["order_id unique"] is Outcome.PASSED


def test_the_database_is_opened_read_only(tmp_path: Path) -> None:
    duckdb_file(tmp_path, ROWS)
    path = contract(tmp_path, "{server: db, type: duckdb, database: shop.duckdb, schema: sales}")
    before = (tmp_path / "shop.duckdb").read_bytes()
    run_contract_test(path)
    assert (tmp_path / "shop.duckdb").read_bytes() == before
    assert not (tmp_path / "shop.duckdb.wal").exists()


@pytest.mark.parametrize(
    ("server", "said"),
    [
        ("{server: db, type: duckdb}", "names no database file"),
        ("{server: db, type: duckdb, database: nowhere.duckdb}", "no database file nowhere.duckdb"),
        ("{server: db, type: sqlite, database: orders.odcs.yaml}", "is not a sqlite database file"),
        ("{server: db, type: duckdb, database: orders.odcs.yaml}", "is not a duckdb database file"),
        ("{server: db, type: postgres, port: ninety}", "port must be a number"),
        ("{server: db, type: snowflake}", "DuckDB and SQLite database files"),
    ],
    ids=["no-file", "missing-file", "not-sqlite", "not-duckdb", "bad-port", "unknown-type"],
)
def test_a_database_it_cannot_open_is_a_clear_error(tmp_path: Path, server: str, said: str) -> None:
    path = contract(tmp_path, server)
    cli = runner.invoke(app, ["contract", "test", str(path)])
    assert cli.exit_code == 2, cli.output
    assert said in cli.output
    assert "Traceback" not in cli.output
    assert str(tmp_path) not in cli.output


def test_a_missing_table_is_named(tmp_path: Path) -> None:
    sqlite_file(tmp_path, ROWS)
    path = contract(tmp_path, "{server: db, type: sqlite, database: shop.sqlite}", table="gone")
    with pytest.raises(UserError, match="db: gone"):
        run_contract_test(path)


def test_a_postgresql_server_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    # A port nothing listens on: refused at once, reported, no traceback, no password.
    path = contract(tmp_path, "{server: db, type: postgres, host: 127.0.0.1, port: 9, database: x}")
    cli = runner.invoke(app, ["contract", "test", str(path)])
    assert cli.exit_code == 2, cli.output
    assert "cannot open the postgres database" in cli.output
    password = os.environ.get("PGPASSWORD")
    assert not password or password not in cli.output


def test_connection_values_are_quoted_for_libpq() -> None:
    server = Server("db", "postgres", host="h' sslmode='disable", port=5432, database="a b\\")
    assert conninfo(server) == (
        "host='h\\' sslmode=\\'disable' port='5432' dbname='a b\\\\' connect_timeout=10 "
        "options='-c lock_timeout=10s'"
    )


def test_a_rule_cannot_reach_the_database_beyond_its_tables(tmp_path: Path) -> None:
    sqlite_file(tmp_path, ROWS)
    path = tmp_path / "orders.odcs.yaml"
    text = contract(tmp_path, "{server: db, type: sqlite, database: shop.sqlite}").read_text()
    path.write_text(
        text.replace(
            "FROM orders o JOIN customers c ON o.order_id = c.order_id",
            "FROM sqlite_scan('shop.sqlite', 'orders')",
        )
    )
    result = run_contract_test(path)
    [refused] = [check for check in result.checks if check.name.startswith("rule at")]
    assert refused.outcome is Outcome.ERROR
    assert "sqlite_scan" in refused.reason
    assert result.outcome is Outcome.ERROR


DCS = """\
dataContractSpecification: 1.2.1
id: shop
info: {{title: Shop, version: 1.0.0}}
servers:
  db: {server}
models:
  orders:
    type: table
    fields:
      order_id: {{type: long, required: true, unique: true}}
      status: {{type: string, enum: [paid, refunded]}}
      amount: {{type: double, minimum: 0}}
"""


def test_a_dcs_contract_reads_the_same_databases(tmp_path: Path, database: Make) -> None:
    server = database(tmp_path, PLANTED)
    path = tmp_path / "datacontract.yaml"
    path.write_text(DCS.format(server=server.replace("server: db, ", "")))
    found = {check.name: check.outcome for check in run_contract_test(path).checks}
    assert found["order_id unique"] is Outcome.FAILED
    assert found["amount >= 0"] is Outcome.FAILED
    assert found["column order_id type"] is Outcome.PASSED
    assert [name for name, outcome in found.items() if "status" in name and outcome.ok] == [
        "column status type"
    ]


def test_json_files_are_read_too(tmp_path: Path) -> None:
    (tmp_path / "orders.json").write_text(
        "\n".join(
            json.dumps({"order_id": i, "status": s, "amount": a, "placed": "x"})
            for i, s, a in PLANTED
        )
    )
    path = contract(tmp_path, "{server: files, type: local, path: '{model}.json', format: json}")
    (tmp_path / "customers.json").write_text('{"order_id": 7}\n')
    found = {check.name: check.outcome for check in run_contract_test(path).checks}
    assert found["order_id unique"] is Outcome.FAILED
    assert found["status invalidValues = 0"] is Outcome.FAILED
    assert found["column placed not null"] is Outcome.PASSED
