"""A mesh whose catalog is on PostgreSQL: the example mesh published, queried and described.

Iceberg's table pointers then live in the same database as the stores (see
quanta.storage.iceberg); nothing of the catalog is left in SQLite files in the home.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from quanta.mesh import Mesh
from quanta.stores.database import sqlalchemy_url

PRODUCTS = {
    "checkout.orders",
    "customer.profiles",
    "customer.identity_map",
    "web.sessions",
    "sales.daily_revenue",
    "marketing.attribution",
}


def _catalog_url(mesh: Mesh) -> str:
    url = mesh.settings.catalog_url
    assert url is not None
    assert url.startswith("postgresql://")
    return url


def test_the_stores_and_icebergs_catalog_share_one_postgresql_database(
    postgresql_demo: Mesh,
) -> None:
    assert {record.id for record in postgresql_demo.products()} == PRODUCTS
    engine = create_engine(sqlalchemy_url(_catalog_url(postgresql_demo)))
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"products", "versions", "ports", "check_runs", "events"} <= tables
        assert {"iceberg_tables", "iceberg_namespace_properties"} <= tables
        with engine.connect() as connection:
            pointers = connection.execute(text("SELECT count(*) FROM iceberg_tables")).scalar()
    finally:
        engine.dispose()
    ports = sum(len(postgresql_demo.describe(p).current.ports) for p in PRODUCTS)
    assert pointers == ports
    home = postgresql_demo.home
    assert not (home / "catalog.db").exists()
    assert not (postgresql_demo.settings.warehouse_path / "iceberg.db").exists()


def test_a_query_joins_products_of_several_domains(postgresql_demo: Mesh) -> None:
    revenue = postgresql_demo.query("SELECT sum(revenue) AS total FROM sales.daily_revenue")
    orders = postgresql_demo.query(
        "SELECT sum(amount) AS total FROM checkout.orders WHERE status <> 'cancelled'"
    )
    assert revenue.to_pylist() == orders.to_pylist()
    assert postgresql_demo.read("checkout.orders").num_rows == 10_000


def test_describe_shows_the_version_its_checks_and_its_readers(postgresql_demo: Mesh) -> None:
    view = postgresql_demo.describe("customer.profiles")
    columns = {column.name: column for column in view.current.ports[0].columns}
    assert columns["email"].classification == "pii"
    assert view.current.rows == 1_001
    assert view.current.checks
    assert all(check["outcome"] == "passed" for check in view.current.checks)
    orders = postgresql_demo.describe("checkout.orders")
    assert {edge.product for edge in orders.downstream} == {
        "sales.daily_revenue",
        "marketing.attribution",
    }
    # Service levels are read from the check history, which the publish wrote.
    assert orders.service_levels
    assert all(level.days_measured == 1 for level in orders.service_levels)


def test_search_and_lineage_read_the_postgresql_catalog(postgresql_demo: Mesh) -> None:
    assert "customer.profiles" in [hit.product for hit in postgresql_demo.search("email")]
    assert "web.sessions" in [hit.product for hit in postgresql_demo.search("sessi")]
    readers = {edge.product for edge in postgresql_demo.lineage("web.sessions").downstream}
    assert readers == {"customer.identity_map", "marketing.attribution"}


def test_the_mesh_opened_again_from_its_url_serves_the_same_catalog(
    postgresql_demo: Mesh,
) -> None:
    url = _catalog_url(postgresql_demo)
    with Mesh.open(postgresql_demo.home, catalog_url=url, create=False) as again:
        assert {record.id for record in again.products()} == PRODUCTS
        total = again.query("SELECT count(*) AS n FROM customer.profiles").to_pylist()
        assert total == [{"n": 1_001}]


def test_an_erasure_on_a_postgresql_catalog(tmp_path: Path, postgresql_url: str) -> None:
    from conftest import published_retail
    from test_erasure import PRIVACY_OFFICER, REASON, SUBJECT, rows_of

    with published_retail(tmp_path / "home", tmp_path / "workspace", postgresql_url) as mesh:
        assert rows_of(mesh, SUBJECT)["checkout.orders"] > 0
        erasure = mesh.erase("customer", SUBJECT, REASON, actor=PRIVACY_OFFICER)
        assert erasure.receipt is not None
        assert all(port.remaining == 0 for port in erasure.receipt.ports)
        assert set(rows_of(mesh, SUBJECT).values()) == {0}
    with Mesh.open(tmp_path / "home", catalog_url=postgresql_url) as again:
        kept = again.erasure(erasure.id, actor=PRIVACY_OFFICER)
        assert kept.receipt == erasure.receipt
