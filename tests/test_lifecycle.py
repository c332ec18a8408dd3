"""The lifecycle on the example mesh: deprecated ports are served with warnings and take no
new consumers or grants; retired ones are no longer served; a new major deprecates the old."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import AccessDenied, NotFound, UserError
from quanta.lifecycle.states import DeprecatedRead
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.lifecycle import State
from test_change import LENA, TOM, drop_column, orders_folder, set_version

NOOR = Actor(name="noor.bakker@retail.example")  # owns sales.daily_revenue
ANA = Actor(name="ana.lima@retail.example")  # finance, reads nothing yet
MIA = Actor(name="mia.jensen@retail.example")  # owns web.sessions
INES = Actor(name="ines.moreau@retail.example")  # the governance group: reads all the log
runner = CliRunner()


def today() -> date:
    return datetime.now(UTC).date()


def test_a_new_major_deprecates_the_one_before_for_the_migration_window(retail: Mesh) -> None:
    drop_column(retail, "status")
    set_version(retail, "2.0.0")
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome.ok, publication.reason
    [entry] = retail.lifecycle("checkout.orders")
    assert (entry.port, entry.major, entry.state) == ("orders", 1, State.DEPRECATED)
    assert entry.sunset == today() + timedelta(days=30)
    assert entry.replacement == "checkout.orders.orders v2"
    [told] = retail.stores.events.events(kinds=["product.deprecated"], subject="checkout.orders")
    assert told.payload["major"] == 1
    # Its consumers still build from major 1, warned of the date and the replacement.
    attribution = retail.home.parent / "workspace" / "marketing" / "attribution"
    [again] = retail.publish(attribution, actor=TOM)
    assert again.outcome.ok, again.reason
    assert again.build is not None
    assert any(
        "checkout.orders.orders v1 is deprecated" in line
        and "read checkout.orders.orders v2" in line
        for line in again.build.log
    )


def test_only_the_owners_deprecate(retail: Mesh) -> None:
    with pytest.raises(AccessDenied, match="checkout-team"):
        retail.deprecate("checkout.orders", today() + timedelta(days=10), actor=TOM)
    assert retail.lifecycle("checkout.orders") == []


def test_a_deprecated_port_is_read_with_a_warning_and_takes_no_new_grant(retail: Mesh) -> None:
    sunset = today() + timedelta(days=10)
    retail.deprecate("sales.daily_revenue", sunset, replacement="checkout.orders", actor=NOOR)
    with pytest.warns(
        DeprecatedRead, match=f"sales.daily_revenue is deprecated \\(sunset {sunset}"
    ):
        table = retail.query("SELECT count(*) AS n FROM sales.daily_revenue", actor=NOOR)
    assert table.num_rows == 1
    with pytest.raises(
        UserError, match=re.escape("takes no new grants; ask for checkout.orders instead")
    ):
        retail.request_access("sales.daily_revenue", "Targets against revenue", actor=ANA)
    result = runner.invoke(
        app,
        ["query", "SELECT count(*) AS n FROM sales.daily_revenue", "--home", str(retail.home)],
        env={"QUANTA_USER": NOOR.name},
    )
    assert result.exit_code == 0, result.output
    assert "warning: sales.daily_revenue is deprecated" in result.stderr


def test_a_deprecated_port_takes_no_new_consumer_but_keeps_its_own(retail: Mesh) -> None:
    sunset = today() + timedelta(days=10)
    retail.deprecate("sales.daily_revenue", sunset, actor=NOOR)
    folder = retail.init_product(
        "finance/targets_report",
        blueprint="aggregate",
        inputs=["sales.daily_revenue"],
        directory=retail.home.parent / "workspace",
    )
    [validation] = retail.validate(folder, actor=ANA)
    assert any(
        "sales.daily_revenue is deprecated" in issue.message
        and "takes no new consumers" in issue.message
        for issue in validation.issues
    ), validation.issues
    # marketing.attribution reads web.sessions already: deprecating it does not stop it.
    retail.deprecate("web.sessions", sunset, actor=MIA)
    attribution = retail.home.parent / "workspace" / "marketing" / "attribution"
    [validation] = retail.validate(attribution, actor=TOM)
    assert not validation.issues, validation.issues


def test_retiring_waits_for_the_consumers_or_the_sunset(retail: Mesh) -> None:
    with pytest.raises(
        UserError, match=re.escape("marketing.attribution (through its input port sessions)")
    ):
        retail.retire("web.sessions", actor=MIA)
    sunset = today() + timedelta(days=10)
    retail.deprecate("web.sessions", sunset, actor=MIA)
    with pytest.raises(UserError, match=f"its sunset is {sunset}"):
        retail.retire("web.sessions", actor=MIA)
    lifecycle = retail.context.lifecycle
    entry = lifecycle.retire(MIA, "web.sessions", today=sunset + timedelta(days=1))
    assert entry.state is State.RETIRED
    with pytest.raises(
        UserError, match=re.escape("web.sessions.sessions is retired and no longer served")
    ):
        retail.query("SELECT count(*) FROM web.sessions", actor=MIA)
    # Its metadata, lineage and history stay.
    assert retail.describe("web.sessions").current is not None
    attribution = retail.home.parent / "workspace" / "marketing" / "attribution"
    [again] = retail.publish(attribution, actor=TOM)
    assert not again.outcome.ok
    assert "retired" in again.reason


def test_a_product_nobody_reads_retires_at_once(retail: Mesh) -> None:
    result = runner.invoke(
        app,
        ["retire", "sales.daily_revenue", "--home", str(retail.home), "--json"],
        env={"QUANTA_USER": NOOR.name},
    )
    assert result.exit_code == 0, result.output
    assert '"state": "retired"' in result.output
    with pytest.raises(UserError, match="retired"):
        retail.query("SELECT * FROM sales.daily_revenue", actor=NOOR)


def test_deprecate_refuses_a_sunset_in_the_past_and_an_unknown_port(retail: Mesh) -> None:
    with pytest.raises(UserError, match="has passed"):
        retail.deprecate("sales.daily_revenue", today() - timedelta(days=1), actor=NOOR)
    result = runner.invoke(
        app,
        [
            "deprecate",
            "sales.daily_revenue.nope",
            "--sunset",
            "2099-01-01",
            "--home",
            str(retail.home),
        ],
        env={"QUANTA_USER": NOOR.name},
    )
    assert result.exit_code == 2
    assert "has no port 'nope'" in result.output
    bad = runner.invoke(
        app,
        ["deprecate", "sales.daily_revenue", "--sunset", "soon", "--home", str(retail.home)],
        env={"QUANTA_USER": NOOR.name},
    )
    assert bad.exit_code == 2
    assert "is not a day" in bad.output
    assert retail.lifecycle() == []


def test_the_event_log_tells_what_happened_in_order(retail: Mesh) -> None:
    start = max(event.id for event in retail.events(actor=INES))
    drop_column(retail, "status")
    [blocked] = retail.publish(orders_folder(retail), actor=LENA)
    assert not blocked.outcome.ok
    set_version(retail, "2.0.0")
    [published] = retail.publish(orders_folder(retail), actor=LENA)
    assert published.outcome.ok, published.reason
    found = retail.events(product="checkout.orders", after=start, actor=LENA)
    kinds = [event.kind for event in found]
    assert kinds == [
        "change.blocked",
        "product.publish_failed",
        "checks.run",
        "product.published",
        "product.deprecated",
    ]
    assert found[0].payload["consumers"] == ["marketing.attribution", "sales.daily_revenue"]
    assert found[0].payload["changes"] == ["column status removed"]
    assert found[3].payload["version"] == published.version
    assert found[3].payload["actor"]["name"] == LENA.name
    result = runner.invoke(
        app,
        ["events", "--product", "checkout.orders", "--kind", "product.deprecated", "--json"],
        env={"QUANTA_HOME": str(retail.home), "QUANTA_USER": LENA.name},
    )
    assert result.exit_code == 0, result.output
    [told] = json.loads(result.output)
    assert told["payload"]["replacement"] == "checkout.orders.orders v2"
    text = runner.invoke(
        app,
        ["events", "--home", str(retail.home), "--limit", "1000"],
        env={"COLUMNS": "300", "QUANTA_USER": LENA.name},
    )
    assert text.exit_code == 0
    assert "change.blocked checkout.orders by lena.vogel@retail.example" in text.output
    bad = runner.invoke(app, ["events", "--since", "yesterday", "--home", str(retail.home)])
    assert bad.exit_code == 2
    assert "is not a day or time" in bad.output


def test_a_draft_product_is_read_by_its_owners_only(retail: Mesh) -> None:
    folder = retail.home.parent / "workspace" / "sales" / "daily_revenue"
    descriptor = folder / "dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("status: active", "status: draft", 1))
    [published] = retail.publish(folder, actor=NOOR)
    assert published.outcome.ok, published.reason
    assert retail.query("SELECT count(*) AS n FROM sales.daily_revenue", actor=NOOR).num_rows == 1
    retail.request_access("sales.daily_revenue", "Targets against revenue", actor=ANA)
    [request] = retail.access_requests(product="sales.daily_revenue", consumer=ANA.name)
    retail.approve_access(request.id, actor=NOOR)
    with pytest.raises(AccessDenied, match=r"sales\.daily_revenue is a draft"):
        retail.query("SELECT count(*) FROM sales.daily_revenue", actor=ANA)


def test_each_owner_and_consumer_sees_what_concerns_them(retail: Mesh) -> None:
    """A deprecation of checkout.orders concerns its owners and the owners of the products
    that read it; not the finance analyst, who reads neither."""
    retail.deprecate("checkout.orders", today() + timedelta(days=10), actor=LENA)
    for who in (LENA, TOM, NOOR):
        kinds = [(e.kind, e.subject) for e in retail.notifications(actor=who)]
        assert ("product.deprecated", "checkout.orders") in kinds, who
    assert all(e.subject != "checkout.orders" for e in retail.notifications(actor=ANA))
    result = runner.invoke(
        app,
        ["events", "--mine", "--json", "--home", str(retail.home)],
        env={"QUANTA_USER": TOM.name},
    )
    assert result.exit_code == 0, result.output
    assert "product.deprecated" in {event["kind"] for event in json.loads(result.output)}


def test_a_consumer_moving_back_to_a_deprecated_major_is_a_new_consumer(retail: Mesh) -> None:
    set_version(retail, "2.0.0")
    [two] = retail.publish(orders_folder(retail), actor=LENA)
    assert two.outcome.ok, two.reason
    attribution = retail.home.parent / "workspace" / "marketing" / "attribution"
    descriptor = attribution / "dataproduct.yaml"
    text = descriptor.read_text()
    pinned = '    version: "1"\n    contractId: checkout.orders\n'
    assert pinned in text
    descriptor.write_text(text.replace(pinned, pinned.replace('"1"', '"2"')))
    [moved] = retail.publish(attribution, actor=TOM)
    assert moved.outcome.ok, moved.reason
    descriptor.write_text(text)  # back to major 1, deprecated by major 2
    [validation] = retail.validate(attribution, actor=TOM)
    assert any("takes no new consumers" in issue.message for issue in validation.issues)
    with pytest.raises(NotFound, match="was never published at major 7"):
        retail.deprecate("checkout.orders.orders", today(), major=7, actor=LENA)
