"""A hostile review of the change rules (reliance, impact, changes, a column removed within
a major): each test is a hole it found, fixed; its docstring says what was wrong."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from quanta.build.lineage import columns_read
from quanta.lifecycle.impact import Consumer, PortImpact, _judge
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.changes import Kind, contract_changes
from quanta.model.contract import Contract
from quanta.model.result import Outcome
from test_change import LENA, drop_column, orders_folder

PRIVACY_OFFICER = Actor(name="ines.moreau@retail.example")
SUBJECT = "c-0000042"

ORDERS = ["order_id", "customer_id", "ordered_at", "status", "currency", "items", "amount"]
INPUTS = {"orders": ORDERS, "checkout.orders.orders": ORDERS, "checkout.orders": ORDERS}


# -- Iceberg: a column removed within a major -------------------------------------------------


def test_erasure_after_a_column_removal_keeps_the_older_versions_column(retail: Mesh) -> None:
    """A column removed within a major leaves only the current schema: docs/change.md says
    earlier versions "keep it and read as they were published". An erasure rewrites every
    version's snapshot; the rewrite of the older version must keep its ``items`` values."""
    before = retail.read("checkout.orders", actor=LENA)
    assert "items" in before.column_names
    drop_column(retail, "items")
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome.ok, publication.reason
    assert publication.version is not None
    older = publication.version - 1
    kept = retail.read("checkout.orders", older, actor=LENA)
    assert "items" in kept.column_names
    erasure = retail.erase("customer", SUBJECT, "test", actor=PRIVACY_OFFICER)
    assert erasure.state.value == "done", erasure
    after = retail.read("checkout.orders", older, actor=LENA)
    assert "items" in after.column_names
    assert after.num_rows < kept.num_rows
    assert after.column("items").null_count == 0


# -- columns_read: SQL whose reliance is under-reported ---------------------------------------


def _read(sql: str) -> set[str]:
    found = columns_read(sql, INPUTS)
    return {column for columns in found.columns.values() for column in columns}


def test_exclude_relies_on_the_excluded_column() -> None:
    """``SELECT * EXCLUDE (status)`` fails in DuckDB once status is gone ("Column status
    in EXCLUDE list not found"): the query relies on status existing, yet columns_read
    leaves it out, so removing status publishes past this consumer and breaks its build."""
    assert "status" in _read("SELECT * EXCLUDE (status) FROM orders")


def test_a_positional_reference_relies_on_columns() -> None:
    """``SELECT #1`` reads the first column of orders; columns_read reports no column at
    all, so the consumer relies on nothing and any removal or reorder publishes past it.
    A positional reference should rely on every column (it cannot be followed)."""
    assert _read("SELECT #1 AS x FROM orders") >= {"order_id"}


def test_columns_in_where_is_read() -> None:
    """``WHERE COLUMNS('st.*') = 'x'`` filters on status (DuckDB expands it), but
    columns_read reports only order_id: the filter column is under-reported."""
    assert "status" in _read("SELECT order_id FROM orders WHERE COLUMNS('st.*') = 'x'")


def test_columns_in_order_by_is_read() -> None:
    """``ORDER BY COLUMNS('st.*')`` orders by status; only order_id is reported."""
    assert "status" in _read("SELECT order_id FROM orders ORDER BY COLUMNS('st.*')")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT to_json(o) AS x FROM orders AS o",
        "SELECT orders AS x FROM orders",
        "SELECT struct_pack(o := o) AS x FROM orders AS o",
    ],
)
def test_a_whole_row_value_relies_on_every_column(sql: str) -> None:
    """A relation used as a value (DuckDB makes it a struct of every column) reads every
    column, and its shape changes with any removal; columns_read reports nothing at all."""
    assert _read(sql) == set(ORDERS)


def test_renamed_columns_by_position_rely_on_the_columns_before() -> None:
    """``FROM orders AS x(a, b, c)`` names orders' first three columns by position: c is
    ordered_at only while order_id and customer_id stay before it. Removing customer_id
    (which the reliance leaves out) makes c name status, silently. The positions the
    aliases take should be relied on."""
    assert _read("SELECT x.c FROM orders AS x(a, b, c)") >= {
        "order_id",
        "customer_id",
        "ordered_at",
    }


# -- model/changes.py: breaking changes missed or misclassified -------------------------------


EXAMPLE = Path(__file__).parents[1] / "examples" / "retail" / "checkout" / "orders" / "contracts"


def _document() -> dict:
    [path] = EXAMPLE.glob("*.yaml")
    return yaml.safe_load(path.read_text())


def _column(document: dict, name: str) -> dict:
    return next(c for c in document["schema"][0]["properties"] if c["name"] == name)


def _breaking(served: dict, proposed: dict) -> list[str]:
    changes = contract_changes(Contract.model_validate(served), Contract.model_validate(proposed))
    return [change.what for change in changes if change.kind is Kind.BREAKING]


def test_removing_one_of_two_rules_on_the_same_metric_is_breaking() -> None:
    """Two table rules on rowCount (a floor and a ceiling) share one identity in
    ``_rules`` (a dict keyed by it), so the floor is shadowed: removing
    ``rowCount > 0`` (the empty-feed guard) is reported as no change at all."""
    served = _document()
    served["schema"][0]["quality"].append({"metric": "rowCount", "mustBeLessThan": 10_000_000})
    proposed = copy.deepcopy(served)
    del proposed["schema"][0]["quality"][0]  # the mustBeGreaterThan: 0 rule
    assert _breaking(served, proposed)


def test_a_rule_demoted_to_a_warning_is_breaking() -> None:
    """A rule's severity decides whether it blocks a publish (error) or only warns: a rule
    going from error to warning withdraws the guarantee, yet severity is neither in the
    rule's identity nor its threshold, so no change is reported."""
    served = _document()
    proposed = copy.deepcopy(served)
    proposed["schema"][0]["quality"][0]["severity"] = "warning"
    assert _breaking(served, proposed)


def test_a_table_rule_moved_to_another_column_is_breaking() -> None:
    """A table-level rule names its column with ``column:`` (quality/parsing.py). Moving
    ``nullValues = 0`` from amount to currency withdraws amount's guarantee, but
    ``column`` is not part of the rule's identity: no change is reported."""
    served = _document()
    served["schema"][0]["quality"].append({"metric": "nullValues", "column": "amount", "mustBe": 0})
    proposed = copy.deepcopy(served)
    proposed["schema"][0]["quality"][-1]["column"] = "currency"
    assert _breaking(served, proposed)


def test_a_removed_foreign_key_is_breaking() -> None:
    """A column's ``relationships`` (foreign keys) are checked as rules at publish; removing
    one withdraws the guarantee that every value is found upstream, yet changes.py never
    looks at relationships: no change is reported."""
    served = _document()
    _column(served, "customer_id")["relationships"] = [
        {"type": "foreignKey", "to": "profiles.customer_id"}
    ]
    proposed = copy.deepcopy(served)
    del _column(proposed, "customer_id")["relationships"]
    assert _breaking(served, proposed)


def test_dropping_the_physical_type_is_breaking() -> None:
    """amount is DECIMAL(12,2). Removing ``physicalType`` keeps logicalType number, which the
    conformance check lets the output store as DOUBLE or FLOAT: the exact-decimal guarantee
    is withdrawn (consumers summing money misread it), yet ``_type_change`` returns no
    change when either side has no physical type."""
    served = _document()
    proposed = copy.deepcopy(served)
    del _column(proposed, "amount")["physicalType"]
    assert _breaking(served, proposed)


def test_a_freshness_written_as_iso_duration_loosened_is_breaking() -> None:
    """Freshness takes an ISO 8601 duration (``value: P1D``, quality/service_levels.py), but
    ``_measure`` only knows numbers: P1D and P30D both measure None, which compare equal,
    so loosening freshness thirty-fold is no change at all."""
    served = _document()
    served["slaProperties"][0] = {
        "property": "freshness",
        "value": "P1D",
        "element": "orders.ordered_at",
    }
    proposed = copy.deepcopy(served)
    proposed["slaProperties"][0]["value"] = "P30D"
    assert _breaking(served, proposed)


def test_a_freshness_without_unit_is_read_in_days() -> None:
    """Freshness with no unit is in days (parse_freshness defaults to d), but changes.py
    reads a missing unit as a plain number: 48 h to ``value: 3`` (3 days, looser) is
    classified as tightened (additive, 172800 > 3) and publishes silently."""
    served = _document()
    served["slaProperties"][0] = {
        "property": "freshness",
        "value": 48,
        "unit": "h",
        "element": "orders.ordered_at",
    }
    proposed = copy.deepcopy(served)
    proposed["slaProperties"][0] = {
        "property": "freshness",
        "value": 3,
        "element": "orders.ordered_at",
    }
    assert _breaking(served, proposed) == ["service level freshness loosened"]


def test_a_column_named_schema_does_not_hide_a_primary_key_change() -> None:
    """A change's ``where`` is a column's name, or ``schema`` for the port as a whole (the
    primary key, a table rule). A port with a column named ``schema`` makes
    ``Consumer.relies_on`` take a primary key change for a change to that column: a
    consumer joining on the key but not reading ``schema`` is not broken."""
    served = _document()
    served["schema"][0]["properties"].append({"name": "schema", "logicalType": "string"})
    proposed = copy.deepcopy(served)
    _column(proposed, "order_id")["primaryKey"] = False
    _column(proposed, "customer_id")["primaryKey"] = True
    before = Contract.model_validate(served)
    port = PortImpact("orders", 1, 1)
    port.changes = contract_changes(before, Contract.model_validate(proposed))
    assert any(c.what.startswith("primary key") for c in port.breaking)
    reader = Consumer("sales.x", "orders", "sales", (), ("order_id", "amount"))
    port.consumers = [reader]
    _judge(port)
    assert [broken.consumer for broken in port.broken] == [reader]


# -- end to end: a consumer silently broken, and quanta impact on user mistakes ---------------

NOOR = Actor(name="noor.bakker@retail.example")  # owns sales.daily_revenue


def test_a_column_a_consumer_excludes_is_not_removed_past_it(retail: Mesh) -> None:
    """sales.daily_revenue reads ``SELECT * EXCLUDE (items) FROM checkout.orders``: its SQL
    needs items to exist. The reliance leaves items out, so checkout.orders drops items
    with only a warning, and the consumer's next build fails. The drop should be stopped
    naming sales.daily_revenue."""
    folder = retail.home.parent / "workspace" / "sales" / "daily_revenue"
    sql = folder / "transform.sql"
    sql.write_text(
        sql.read_text().replace(
            "FROM checkout.orders", "FROM (SELECT * EXCLUDE (items) FROM checkout.orders)"
        )
    )
    [own] = retail.publish(folder, actor=NOOR)
    assert own.outcome.ok, own.reason
    drop_column(retail, "items")
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome is Outcome.FAILED, "items removed past sales.daily_revenue"
    assert "sales.daily_revenue" in publication.reason
