"""The event log keeps every event and tells each reader only what concerns them: a
failed publish is not lost while the catalog is busy, a check's event commits with its
record, and a product's events reach its owners, its consumers and the governance group,
another consumer's access request only its requester and the owners."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.events.history import SPOOL_FOLDER
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.result import Outcome
from quanta.model.webhooks import DeliveryState
from test_change import LENA
from test_webhooks import Receiver

NOOR = Actor(name="noor.bakker@retail.example")  # owns sales.daily_revenue, which reads orders
ANA = Actor(name="ana.lima@retail.example")  # finance: reads nothing
INES = Actor(name="ines.moreau@retail.example")  # the governance group
ZOE = Actor(name="zoe.park@retail.example")  # in no team, reads nothing
runner = CliRunner()


@pytest.fixture
def pg_mesh(tmp_path: Path, postgresql_url: str) -> Iterator[Mesh]:
    with Mesh.open(tmp_path / "home", catalog_url=postgresql_url) as opened:
        yield opened


@contextmanager
def log_locked(mesh: Mesh) -> Iterator[None]:
    """Another session holds the event log against writers (a long migration, a backup
    that locks it): every other table, and reading the log, go on."""
    with mesh.stores.database.engine.connect() as other, other.begin():
        other.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")
        yield


def _spooled(mesh: Mesh) -> list[Path]:
    folder = mesh.home / SPOOL_FOLDER
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def test_a_failed_publish_while_the_catalog_is_busy_is_logged_once_it_is_free(
    pg_mesh: Mesh, source_product: Path
) -> None:
    mesh = pg_mesh
    (source_product / "transform.sql").write_text("SELECT nothing FROM nowhere\n")
    with log_locked(mesh):
        before = datetime.now(UTC)
        [failed] = mesh.publish(source_product)
        assert failed.outcome == Outcome.FAILED
        assert mesh.stores.events.events() == []  # not written: kept in the spool
    assert len(_spooled(mesh)) == 1
    [told] = mesh.events()  # whoever reads the log folds the spool in first
    assert (told.kind, told.subject) == ("product.publish_failed", "finance.targets")
    assert told.payload["actor"]["name"] == mesh.actor.name
    assert before <= told.at <= datetime.now(UTC)  # the time it happened, not folded
    assert _spooled(mesh) == []
    assert len(mesh.events()) == 1  # folded once


def test_a_spooled_event_is_folded_in_by_the_next_event_kept(
    pg_mesh: Mesh, source_product: Path
) -> None:
    mesh = pg_mesh
    transform = source_product / "transform.sql"
    transform.write_text("SELECT nothing FROM nowhere\n")
    with log_locked(mesh):
        mesh.publish(source_product)
    assert len(_spooled(mesh)) == 1
    transform.write_text("SELECT 1 / 0 AS broken\n")
    mesh.publish(source_product)  # fails too: its event written, and the spooled one
    assert _spooled(mesh) == []
    kinds = [event.kind for event in mesh.stores.events.events()]
    assert kinds == ["product.publish_failed", "product.publish_failed"]


def test_a_check_of_a_published_version_logs_one_event_with_its_record(
    mesh: Mesh, source_product: Path
) -> None:
    [published] = mesh.publish(source_product)
    assert published.outcome.ok, published.reason
    mesh.check("finance.targets")
    checked = mesh.stores.events.events(kinds=["checks.run"])
    triggers = [event.payload["trigger"] for event in checked]
    assert triggers == ["publish", "check"]  # the build's run, then the check's: once each
    [record] = [
        r
        for r in mesh.stores.checks.check_history(
            "finance.targets", datetime.min.replace(tzinfo=UTC)
        )
        if r.trigger == "check"
    ]
    assert checked[1].at == record.checked_at
    assert checked[1].payload["version"] == published.version


def test_each_reader_hears_what_concerns_them(retail: Mesh) -> None:
    asked = retail.request_access("checkout.orders", "Quarterly forecast", actor=ANA)
    sunset = datetime.now(UTC).date() + timedelta(days=40)
    retail.deprecate("checkout.orders", sunset, actor=LENA)

    def heard(actor: Actor) -> list[str]:
        return [e.kind for e in retail.events(product="checkout.orders", actor=actor)]

    everything = heard(INES)
    assert {"product.published", "access.requested", "product.deprecated"} <= set(everything)
    assert heard(LENA) == everything  # its owner hears all of it
    # A consumer (through the product it owns): all but another consumer's request.
    consumer = list(retail.events(product="checkout.orders", actor=NOOR))
    assert {e.kind for e in consumer} == set(everything)
    assert {e.payload["consumer"] for e in consumer if e.kind.startswith("access.")} == {
        "sales.daily_revenue"  # its own product's grant
    }
    # The requester (auto-approved: now a consumer) hears their own request, not others'.
    requester = retail.events(product="checkout.orders", actor=ANA)
    mine = [e for e in requester if e.kind.startswith("access.")]
    assert [(e.kind, e.payload["request"]) for e in mine] == [
        ("access.requested", asked.id),
        ("access.approved", asked.id),
    ]
    assert {e.kind for e in requester} == set(everything)
    # Someone who reads nothing of it hears nothing of it.
    assert retail.events(product="checkout.orders", actor=ZOE) == []
    assert retail.notifications(actor=ZOE) == []

    cli = runner.invoke(
        app,
        ["events", "--home", str(retail.home), "--json", "--limit", "1000"],
        env={"QUANTA_USER": NOOR.name},
    )
    assert cli.exit_code == 0, cli.output
    told = json.loads(cli.output)
    assert told
    assert not [e for e in told if e["payload"].get("consumer") == ANA.name]
    subjects = {e["subject"] for e in told}
    assert "checkout.orders" in subjects
    assert "customer.profiles" not in subjects


def test_a_webhook_withholds_what_its_subscriber_may_not_hear(retail: Mesh, tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        webhook, _ = retail.add_webhook(receiver.url, product="checkout.orders", actor=NOOR)
        retail.request_access("checkout.orders", "Quarterly forecast", actor=ANA)
        retail.deprecate(
            "checkout.orders", datetime.now(UTC).date() + timedelta(days=40), actor=LENA
        )
        done = retail.deliver_webhooks(timeout=2)
        assert (done.delivered, done.withheld) == (1, 2)  # ANA's request, and its approval
        deliveries = retail.webhook_deliveries(webhook.id)
        assert sorted(d.state for d in deliveries) == sorted(
            [DeliveryState.DELIVERED, DeliveryState.WITHHELD, DeliveryState.WITHHELD]
        )
        withheld = [d for d in deliveries if d.state == DeliveryState.WITHHELD]
        assert all(NOOR.name in (d.last_error or "") for d in withheld)
        [(_, body)] = receiver.received
        assert json.loads(body)["kind"] == "product.deprecated"
    finally:
        receiver.stop()
