"""Change without surprises, on the example mesh: a producer's breaking change is stopped
only when it touches what a consumer reads; a new major is published beside the old one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.lifecycle.reliance import relied_on
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.result import Outcome

LENA = Actor(name="lena.vogel@retail.example")  # owns checkout.orders
TOM = Actor(name="tom.greene@retail.example")  # owns marketing.attribution
runner = CliRunner()


def orders_folder(mesh: Mesh) -> Path:
    return mesh.home.parent / "workspace" / "checkout" / "orders"


def contract_file(mesh: Mesh) -> Path:
    [path] = (orders_folder(mesh) / "contracts").glob("*.yaml")
    return path


def drop_column(mesh: Mesh, column: str) -> None:
    """Remove ``column`` from checkout.orders: from its contract and from its SQL."""
    path = contract_file(mesh)
    text = path.read_text()
    start = text.index(f"      - name: {column}\n")
    end = text.find("      - name: ", start + 1)
    end = len(text) if end < 0 else end
    path.write_text(text[:start] + text[end:])
    sql = orders_folder(mesh) / "transform.sql"
    lines = sql.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not re.search(rf"\b{column}\b", line)]
    assert len(kept) == len(lines) - 1, f"{column} is on one line of transform.sql"
    sql.write_text("".join(kept))


def set_version(mesh: Mesh, version: str) -> None:
    path = contract_file(mesh)
    path.write_text(path.read_text().replace("version: 1.0.0", f"version: {version}", 1))
    descriptor = orders_folder(mesh) / "dataproduct.yaml"
    text = descriptor.read_text()
    descriptor.write_text(
        re.sub(r"(outputPorts:\n(?:.*\n)*?\s+version: )1\.0\.0", rf"\g<1>{version}", text, count=1)
    )


def test_the_catalog_keeps_what_each_consumer_reads(retail: Mesh) -> None:
    """Reliance is every column the SQL reads: selected, filtered, joined and grouped on."""
    version = retail.stores.catalog.version("marketing.attribution")
    assert version is not None
    reads = {use.port: use.columns for use in version.inputs}
    assert reads["orders"] == ["amount", "customer_id", "ordered_at", "status"]
    assert reads["sessions"] == ["channel", "session_id", "started_at"]
    assert reads["customer_sessions"] == ["customer_id", "session_id"]


def test_a_breaking_change_a_consumer_reads_is_stopped_naming_them(retail: Mesh) -> None:
    before = retail.stores.catalog.version("checkout.orders")
    assert before is not None
    drop_column(retail, "status")
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome is Outcome.FAILED
    reason = publication.reason
    assert (
        "marketing.attribution (team marketing-analytics: tom.greene@retail.example) reads "
        "checkout.orders.orders through its input port orders" in reason
    )
    assert "sales.daily_revenue" in reason
    assert "column status removed" in reason
    assert "version 2.0.0" in reason
    assert publication.build is None or publication.build.rows == 0
    after = retail.stores.catalog.version("checkout.orders")
    assert after is not None
    assert after.version == before.version


def test_a_loosened_rule_names_only_the_consumers_reading_its_column(retail: Mesh) -> None:
    """sales.daily_revenue reads currency; marketing.attribution does not."""
    path = contract_file(retail)
    text = path.read_text()
    assert "logicalTypeOptions: {pattern: '^[A-Z]{3}$'}" in text
    path.write_text(text.replace("{pattern: '^[A-Z]{3}$'}", "{pattern: '^[A-Za-z]{3}$'}"))
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome is Outcome.FAILED
    assert "sales.daily_revenue (team" in publication.reason
    assert "column currency: rule option:pattern changed" in publication.reason
    assert "marketing.attribution" not in publication.reason


def test_validate_tells_the_same_before_a_publish(retail: Mesh) -> None:
    drop_column(retail, "status")
    [validation] = retail.validate(orders_folder(retail), actor=LENA)
    assert validation.outcome is Outcome.FAILED
    assert validation.breaks_consumers
    [told] = validation.changes
    assert "marketing.attribution (team marketing-analytics" in told
    result = runner.invoke(
        app,
        ["validate", str(orders_folder(retail)), "--home", str(retail.home)],
        env={"QUANTA_USER": LENA.name, "COLUMNS": "300"},
    )
    assert result.exit_code == 1, result.output
    assert "column status removed" in result.output


def test_validate_warns_of_a_breaking_change_nobody_relies_on(retail: Mesh) -> None:
    drop_column(retail, "items")
    [validation] = retail.validate(orders_folder(retail), actor=LENA)
    assert validation.outcome is Outcome.WARNED
    [told] = validation.changes
    assert "column items removed is breaking" in told


def test_a_breaking_change_nobody_reads_publishes_with_a_warning(retail: Mesh) -> None:
    drop_column(retail, "items")
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome.ok, publication.reason
    assert publication.build is not None
    [told] = [line for line in publication.build.log if "warning:" in line]
    assert "column items removed is breaking" in told
    assert "no consumer relies on it" in told
    [proposed] = retail.events(product="checkout.orders", kinds=["change.proposed"], actor=LENA)
    assert proposed.payload["changes"] == ["column items removed"]
    assert "items" not in retail.read("checkout.orders", actor=LENA).column_names
    # The version before keeps its column, read as it was published.
    assert publication.version is not None
    assert (
        "items" in retail.read("checkout.orders", publication.version - 1, actor=LENA).column_names
    )


def test_a_new_major_is_served_beside_the_old_one(retail: Mesh) -> None:
    drop_column(retail, "status")
    set_version(retail, "2.0.0")
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome.ok, publication.reason
    catalog = retail.stores.catalog
    one = catalog.latest_with_major("checkout.orders", "orders", 1)
    two = catalog.latest_with_major("checkout.orders", "orders", 2)
    assert one is not None
    assert two is not None
    assert two.version > one.version
    # The consumer pinned to major 1 still builds from it, and still reads status.
    attribution = retail.home.parent / "workspace" / "marketing" / "attribution"
    [again] = retail.publish(attribution, actor=TOM)
    assert again.outcome.ok, again.reason
    used = catalog.version("marketing.attribution")
    assert used is not None
    [orders] = [use for use in used.inputs if use.port == "orders"]
    assert orders.upstream_version == one.version


def test_impact_answers_before_any_publish(retail: Mesh) -> None:
    drop_column(retail, "status")
    result = runner.invoke(
        app, ["impact", str(orders_folder(retail)), "--home", str(retail.home), "--json"]
    )
    assert result.exit_code == 1, result.output
    [found] = json.loads(result.output)
    assert found["product"] == "checkout.orders"
    assert found["blocked"] is True
    [port] = found["ports"]
    assert port["port"] == "orders"
    assert {c["product"] for c in port["broken"]} == {
        "marketing.attribution",
        "sales.daily_revenue",
    }
    [broken] = [c for c in port["broken"] if c["product"] == "marketing.attribution"]
    assert broken["team"] == "marketing-analytics"
    assert broken["owners"] == ["tom.greene@retail.example"]
    assert broken["changes"] == ["column status removed"]
    text = runner.invoke(app, ["impact", str(orders_folder(retail)), "--home", str(retail.home)])
    assert text.exit_code == 1
    assert "marketing.attribution" in text.output
    assert "tom.greene@retail.example" in text.output


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM checkout.orders", None),
        ("SELECT count(*) AS n FROM checkout.orders", []),
        ("SELECT order_id FROM orders WHERE amount > 0", ["amount", "order_id"]),
    ],
)
def test_reliance_of_a_query(retail: Mesh, sql: str, expected: list[str] | None) -> None:
    from quanta.build.inputs import resolve_inputs
    from quanta.validation.folder import load_folder

    folder = retail.home.parent / "workspace" / "sales" / "daily_revenue"
    product = load_folder(folder).product
    assert product is not None
    inputs = resolve_inputs(product, retail.stores.catalog)
    [port] = inputs.upstream
    every = sorted(column.name for column in port.port.columns)
    found = relied_on(product, sql, inputs.upstream)
    assert found == {"orders": every if expected is None else expected}
