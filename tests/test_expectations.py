"""Consumer-driven contracts: what a consumer expects of a port is checked at each of its
producer's publishes, and a failing expectation stops the publish, naming the consumer."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import AccessDenied, UserError
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.result import Outcome
from test_change import LENA, TOM, orders_folder

ANA = Actor(name="ana.lima@retail.example")
runner = CliRunner()


def test_a_product_that_reads_the_port_registers_what_it_expects(retail: Mesh) -> None:
    # Every order's currency is one of three: true of the data, so it publishes.
    retail.expect(
        "checkout.orders",
        [
            {
                "metric": "invalidValues",
                "column": "currency",
                "arguments": {"validValues": ["EUR", "GBP", "USD"]},
                "mustBe": 0,
            }
        ],
        for_product="marketing.attribution",
        actor=TOM,
    )
    [fine] = retail.publish(orders_folder(retail), actor=LENA)
    assert fine.outcome.ok, fine.reason
    assert fine.checks is not None
    names = [check.name for check in fine.checks.checks]
    assert any(name.startswith("expected by marketing.attribution:") for name in names), names
    # An expectation the new data breaks stops the publish, naming the consumer.
    retail.expect(
        "checkout.orders",
        [{"metric": "rowCount", "mustBeGreaterThan": 100_000_000}],
        for_product="marketing.attribution",
        actor=TOM,
    )
    [stopped] = retail.publish(orders_folder(retail), actor=LENA)
    assert stopped.outcome is Outcome.FAILED
    assert "expected by marketing.attribution: rowCount" in stopped.reason
    [kept] = retail.expectations("checkout.orders")
    assert kept.consumer == "marketing.attribution"
    assert kept.by == TOM.name


def test_only_consumers_register_expectations(retail: Mesh) -> None:
    with pytest.raises(AccessDenied, match="has none"):
        retail.expect(
            "checkout.orders", [{"metric": "rowCount", "mustBeGreaterThan": 0}], actor=ANA
        )
    with pytest.raises(AccessDenied, match="only the members of team marketing-analytics"):
        retail.expect(
            "checkout.orders",
            [{"metric": "rowCount", "mustBeGreaterThan": 0}],
            for_product="marketing.attribution",
            actor=ANA,
        )
    assert retail.expectations("checkout.orders") == []


def test_an_expectation_that_cannot_run_is_refused(retail: Mesh) -> None:
    with pytest.raises(UserError, match="names no column 'nope'"):
        retail.expect(
            "checkout.orders",
            [{"metric": "nullValues", "column": "nope", "mustBe": 0}],
            for_product="marketing.attribution",
            actor=TOM,
        )
    with pytest.raises(UserError, match="cannot run"):
        retail.expect(
            "checkout.orders",
            [{"metric": "noSuchMetric", "mustBe": 0}],
            for_product="marketing.attribution",
            actor=TOM,
        )
    assert retail.expectations("checkout.orders") == []


def test_an_input_port_declares_what_it_expects(retail: Mesh) -> None:
    folder = retail.home.parent / "workspace" / "marketing" / "attribution"
    descriptor = folder / "dataproduct.yaml"
    text = descriptor.read_text()
    text = text.replace(
        "    contractId: checkout.orders\n",
        "    contractId: checkout.orders\n    customProperties:\n"
        "      - property: expects\n"
        "        value: [{metric: nullValues, column: amount, mustBe: 0}]\n",
        1,
    )
    descriptor.write_text(text)
    [published] = retail.publish(folder, actor=TOM)
    assert published.outcome.ok, published.reason
    [kept] = retail.expectations("checkout.orders")
    assert (kept.consumer, kept.port, kept.major) == ("marketing.attribution", "orders", 1)
    assert kept.rules == [{"metric": "nullValues", "column": "amount", "mustBe": 0}]
    result = runner.invoke(
        app, ["consumer", "expectations", "checkout.orders", "--json", "--home", str(retail.home)]
    )
    assert json.loads(result.output)[0]["consumer"] == "marketing.attribution"


def test_the_command(retail: Mesh) -> None:
    env = {"QUANTA_USER": TOM.name, "QUANTA_HOME": str(retail.home)}
    made = runner.invoke(
        app,
        [
            "consumer",
            "expect",
            "checkout.orders",
            "--for",
            "marketing.attribution",
            "--rule",
            "{metric: rowCount, mustBeGreaterThan: 0}",
            "--json",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["rules"] == [{"metric": "rowCount", "mustBeGreaterThan": 0}]
    bad = runner.invoke(
        app,
        [
            "consumer",
            "expect",
            "checkout.orders",
            "--for",
            "marketing.attribution",
            "--rule",
            "[1, 2",
        ],
        env=env,
    )
    assert bad.exit_code == 2
    assert "rule 1 is not YAML" in bad.output
    withdrawn = runner.invoke(
        app, ["consumer", "expect", "checkout.orders", "--for", "marketing.attribution"], env=env
    )
    assert withdrawn.exit_code == 0, withdrawn.output
    assert retail.expectations("checkout.orders") == []
