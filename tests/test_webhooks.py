"""Webhooks against a real HTTP server on 127.0.0.1 that fails, times out, is down and
comes back: every event is delivered at least once, signed, retried with back-off."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import AccessDenied, UserError
from quanta.events.webhooks import verify
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.webhooks import DeliveryState
from test_change import LENA

ANA = Actor(name="ana.lima@retail.example")
INES = "ines.moreau@retail.example"  # the governance group
runner = CliRunner()


class Receiver:
    """An HTTP server answering each POST as the next of ``answers`` says (then 200)."""

    def __init__(self, port: int = 0) -> None:
        self.answers: list[str] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                answer = receiver.answers.pop(0) if receiver.answers else "200"
                if answer == "slow":
                    time.sleep(1.5)
                    answer = "200"
                try:
                    self.send_response(int(answer))
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


def deprecate(mesh: Mesh, days: int) -> None:
    sunset = datetime.now(UTC).date() + timedelta(days=days)
    mesh.deprecate("checkout.orders", sunset, actor=LENA)


def test_events_reach_a_receiver_that_fails_times_out_and_recovers(
    retail: Mesh, receiver: Receiver
) -> None:
    webhook, secret = retail.add_webhook(receiver.url, product="checkout.orders", actor=LENA)
    deprecate(retail, 10)
    deprecate(retail, 20)
    receiver.answers = ["500", "slow"]
    start = datetime.now(UTC)
    first = retail.deliver_webhooks(start, timeout=0.5)
    assert (first.queued, first.delivered, first.failed) == (2, 0, 2)
    log = {d.event: d for d in retail.webhook_deliveries(webhook.id)}
    assert sorted(d.last_error or "" for d in log.values()) == ["HTTP 500", "no answer in 0.5 s"]
    assert all(d.next_at == start + timedelta(seconds=10) for d in log.values())
    # Not yet due: the back-off holds them.
    early = retail.deliver_webhooks(start + timedelta(seconds=5), timeout=0.5)
    assert (early.queued, early.delivered, early.failed) == (0, 0, 0)
    later = retail.deliver_webhooks(start + timedelta(seconds=11), timeout=0.5)
    assert (later.delivered, later.failed) == (2, 0)
    done = retail.webhook_deliveries(webhook.id)
    assert {d.state for d in done} == {DeliveryState.DELIVERED}
    assert all(d.attempts == 2 for d in done)
    deprecations = retail.events(
        product="checkout.orders", kinds=["product.deprecated"], actor=LENA
    )
    events = {e.id for e in deprecations}
    seen = set()
    for headers, body in receiver.received:
        assert verify(
            bytes.fromhex(secret),
            headers["X-Quanta-Timestamp"],
            body,
            headers["X-Quanta-Signature"],
        )
        told = json.loads(body)
        assert told["kind"] == headers["X-Quanta-Event"] == "product.deprecated"
        seen.add(told["id"])
    assert seen == events  # every event at least once
    assert not verify(b"another secret", "0", b"{}", receiver.received[0][0]["X-Quanta-Signature"])


def test_a_receiver_that_is_down_gets_the_events_when_it_is_back(retail: Mesh) -> None:
    down = Receiver()
    url = down.url
    port = down.server.server_address[1]
    down.stop()
    webhook, _ = retail.add_webhook(url, product="checkout.orders", actor=LENA)
    deprecate(retail, 10)
    start = datetime.now(UTC)
    missed = retail.deliver_webhooks(start, timeout=0.5)
    assert (missed.delivered, missed.failed) == (0, 1)
    [delivery] = retail.webhook_deliveries(webhook.id)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("cannot connect")
    back = Receiver(port)
    try:
        again = retail.deliver_webhooks(start + timedelta(hours=1), timeout=0.5)
        assert again.delivered == 1
        assert len(back.received) == 1
    finally:
        back.stop()


def test_only_owners_consumers_and_governance_subscribe(retail: Mesh, receiver: Receiver) -> None:
    with pytest.raises(AccessDenied, match=r"owners and consumers of checkout\.orders"):
        retail.add_webhook(receiver.url, product="checkout.orders", actor=ANA)
    with pytest.raises(AccessDenied, match="only the governance group"):
        retail.add_webhook(receiver.url, domain="checkout", actor=LENA)
    with pytest.raises(UserError, match="--domain: domain 'Check out' is not allowed"):
        retail.add_webhook(receiver.url, domain="Check out", actor=Actor(name=INES))
    for bad in ("ftp://127.0.0.1/x", "http:///x", "http://user:pw@127.0.0.1/x"):
        with pytest.raises(UserError):
            retail.add_webhook(bad, product="checkout.orders", actor=LENA)
    assert retail.webhooks() == []


def test_a_subscription_hears_only_what_it_asked_for(retail: Mesh, receiver: Receiver) -> None:
    retail.add_webhook(
        receiver.url, product="checkout.orders", kinds=["product.retired"], actor=LENA
    )
    deprecate(retail, 10)
    done = retail.deliver_webhooks(timeout=0.5)
    assert (done.queued, done.delivered) == (0, 0)
    assert receiver.received == []


def test_the_commands(retail: Mesh, receiver: Receiver) -> None:
    env = {"QUANTA_USER": LENA.name, "QUANTA_HOME": str(retail.home), "COLUMNS": "300"}
    added = runner.invoke(
        app, ["webhooks", "add", receiver.url, "--product", "checkout.orders", "--json"], env=env
    )
    assert added.exit_code == 0, added.output
    made = json.loads(added.output)
    assert len(made["secret"]) == 64
    listed = runner.invoke(app, ["webhooks", "list"], env=env)
    assert receiver.url in listed.output
    assert made["secret"] not in listed.output
    deprecate(retail, 10)
    sent = runner.invoke(app, ["webhooks", "deliver", "--json"], env=env)
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["delivered"] == 1
    log = runner.invoke(app, ["webhooks", "log", "--json"], env=env)
    assert json.loads(log.output)[0]["state"] == "delivered"
    bad = runner.invoke(
        app, ["webhooks", "add", "not a url", "--product", "checkout.orders"], env=env
    )
    assert bad.exit_code == 2
    assert "not an http(s) URL" in bad.output
    removed = runner.invoke(app, ["webhooks", "remove", str(made["id"])], env=env)
    assert removed.exit_code == 0
    assert retail.webhooks() == []
