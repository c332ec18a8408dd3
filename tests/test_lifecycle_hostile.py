"""A hostile review of the lifecycle (deprecate, retire), the event log, webhooks and
OpenLineage: each test is a hole it found, fixed; its docstring says what was wrong."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import NotFound, UserError
from quanta.events.webhooks import verify
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.lifecycle import State
from quanta.model.webhooks import Webhook
from test_change import LENA, drop_column, orders_folder, set_version
from test_webhooks import Receiver

NOOR = Actor(name="noor.bakker@retail.example")  # owns sales.daily_revenue
ANA = Actor(name="ana.lima@retail.example")  # finance, reads nothing yet
MIA = Actor(name="mia.jensen@retail.example")  # owns web.sessions
INES = Actor(name="ines.moreau@retail.example")  # the governance group: reads all the log
runner = CliRunner()


def today() -> date:
    return datetime.now(UTC).date()


# -- lifecycle -----------------------------------------------------------------------------


def test_retiring_a_product_retires_a_port_that_was_only_deprecated(retail: Mesh) -> None:
    """A port deprecated on its own, then its whole product retired, is still served: the
    read rule takes the most specific entry (the port's `deprecated`) over the product's
    `retired`. Retiring a product must stop every port of it being served."""
    sunset = today() + timedelta(days=10)
    retail.deprecate("sales.daily_revenue.daily_revenue", sunset, actor=NOOR)
    retail.retire("sales.daily_revenue", actor=NOOR)  # nobody reads it: at once
    with pytest.raises(UserError, match="retired"):
        retail.read("sales.daily_revenue.daily_revenue", actor=NOOR)


def test_retiring_a_port_retires_the_old_major_a_new_major_deprecated(retail: Mesh) -> None:
    """Publishing v2 of checkout.orders.orders deprecates v1 (an entry of port+major). The
    owner then retires the whole port after its sunset: v1, read pinned, is still served
    (the major's `deprecated` entry wins over the port's `retired`)."""
    drop_column(retail, "status")
    set_version(retail, "2.0.0")
    v1 = retail.stores.catalog.version("checkout.orders")
    assert v1 is not None
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert publication.outcome.ok, publication.reason
    sunset = today() + timedelta(days=5)
    retail.deprecate("checkout.orders.orders", sunset, actor=LENA)
    retail.context.lifecycle.retire(
        LENA, "checkout.orders.orders", today=sunset + timedelta(days=1)
    )
    with pytest.raises(UserError, match="retired"):
        retail.read("checkout.orders.orders", v1.version, actor=LENA)


def test_deprecating_a_retired_product_does_not_serve_it_again(retail: Mesh) -> None:
    """`deprecate` refuses a retired port, but not a retired product: deprecating
    sales.daily_revenue after retiring it replaces the `retired` entry, and the product is
    served again (and takes its consumers back). It should say it is retired already."""
    retail.retire("sales.daily_revenue", actor=NOOR)
    with pytest.raises(UserError, match="retired already"):
        retail.deprecate("sales.daily_revenue", today() + timedelta(days=10), actor=NOOR)
    assert [e.state for e in retail.lifecycle("sales.daily_revenue")] == [State.RETIRED]


def test_a_replacement_must_name_a_port_that_exists(retail: Mesh) -> None:
    """`--replacement` is checked for its product only: a port that does not exist, or a
    major never published, is accepted and then told to every reader as what to read
    instead."""
    sunset = today() + timedelta(days=10)
    with pytest.raises(NotFound):
        retail.deprecate(
            "sales.daily_revenue", sunset, replacement="checkout.orders.no_such_port", actor=NOOR
        )
    with pytest.raises(NotFound):
        retail.deprecate(
            "sales.daily_revenue", sunset, replacement="checkout.orders.orders v7", actor=NOOR
        )


# -- webhooks ------------------------------------------------------------------------------


def deprecate_orders(mesh: Mesh, days: int = 10) -> None:
    mesh.deprecate("checkout.orders", today() + timedelta(days=days), actor=LENA)


@pytest.mark.parametrize(
    "bad",
    ["http://127.0.0.1:1/a b", "http://127.0.0.1:x/hook"],
)
def test_one_subscriber_s_odd_url_does_not_stop_every_delivery(retail: Mesh, bad: str) -> None:
    """`_check_url` lets through a URL http.client refuses (a space in the path, a port
    that is not a number). Delivering to it raises `http.client.InvalidURL` (a
    ValueError), which `_post` does not catch: the whole round (and `deliver --follow`)
    dies, every round, for every subscriber. Such a URL should be refused when added, or
    its delivery fail on its own while the others go out."""
    good = Receiver()
    try:
        try:
            retail.add_webhook(bad, product="checkout.orders", actor=LENA)
        except UserError:
            return  # refused when added: fine
        retail.add_webhook(good.url, product="checkout.orders", actor=LENA)
        deprecate_orders(retail)
        done = retail.deliver_webhooks(timeout=0.5)
        assert done.delivered == 1
        assert len(good.received) == 1
    finally:
        good.stop()


def test_removing_a_webhook_during_a_round_does_not_end_the_round(retail: Mesh) -> None:
    """`deliver` reads what is due, then POSTs one by one; `_post` derives each secret as
    it goes, and `secret()` raises NotFound for a webhook removed meanwhile (by its
    owner, from another shell). The round, and a `deliver --follow` worker, dies with it,
    leaving the deliveries after it untried. A removed webhook's deliveries should just be
    skipped."""
    other = Receiver()
    first = Receiver()
    try:
        retail.add_webhook(first.url, product="checkout.orders", actor=LENA)
        b, _ = retail.add_webhook(other.url, product="checkout.orders", actor=LENA)
        c_receiver = Receiver()
        retail.add_webhook(c_receiver.url, product="checkout.orders", actor=LENA)
        deprecate_orders(retail)
        due = retail.stores.webhooks.due

        def due_then_removed(now: datetime, limit: int = 100) -> Any:
            found = due(now, limit)
            retail.remove_webhook(b.id, actor=LENA)  # its owner, in another shell, now
            return found

        retail.stores.webhooks.due = due_then_removed  # type: ignore[method-assign]
        done = retail.deliver_webhooks(timeout=0.5)
        assert done.delivered == 2
        assert len(c_receiver.received) == 1
        c_receiver.stop()
    finally:
        other.stop()
        first.stop()


def test_a_consumer_whose_grant_was_revoked_hears_no_more_events(retail: Mesh) -> None:
    """The subscription of a consumer is checked against a live grant when it is added,
    never again: once the grant is revoked (or expires) the webhook keeps receiving every
    event of the product. A product's events are for its owners and consumers with a live
    grant (docs/change.md)."""
    receiver = Receiver()
    try:
        asked = retail.request_access("checkout.orders", "Forecasting", actor=ANA)
        if asked.state.value == "pending":
            asked = retail.approve_access(asked.id, actor=LENA)
        assert asked.state.value == "approved", asked
        retail.add_webhook(receiver.url, product="checkout.orders", actor=ANA)
        retail.revoke_access(asked.id, actor=LENA)
        deprecate_orders(retail)
        retail.deliver_webhooks(timeout=0.5)
        kinds = [json.loads(body)["kind"] for _, body in receiver.received]
        assert "product.deprecated" not in kinds, kinds
    finally:
        receiver.stop()


def test_two_delivery_runs_queue_each_event_once(retail: Mesh) -> None:
    """`enqueue` inserts the deliveries, then moves the cursor only `WHERE cursor = <what it
    read>`; when that matches nothing (another `deliver` moved it first) the transaction
    still commits the inserts. Two runs at once (a cron `deliver` beside a `--follow`
    worker) that both read the subscription before either commits queue every event
    twice. Here the second run's read of the subscriptions is the one it made before the
    first committed. Each event should be queued once per subscription."""
    receiver = Receiver()
    try:
        webhook, _ = retail.add_webhook(receiver.url, product="checkout.orders", actor=LENA)
        deprecate_orders(retail)
        store = retail.stores.webhooks
        seen_before = store.webhooks()  # the second run read this ...
        now = datetime.now(UTC)
        assert store.enqueue(now) == 1  # ... then the first run queued and committed
        store.webhooks = lambda: seen_before  # type: ignore[method-assign]
        store.enqueue(now)
        assert len(retail.webhook_deliveries(webhook.id)) == 1
    finally:
        receiver.stop()


class Holding:
    """A receiver whose first POST waits until released."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.first = threading.Event()
        self.release = threading.Event()
        holding = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                holding.received.append(body)
                if len(holding.received) == 1:
                    holding.first.set()
                    holding.release.wait(10)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_two_delivery_runs_do_not_both_post_the_same_delivery(retail: Mesh) -> None:
    """`due()` claims nothing: a delivery being POSTed by one run is still `pending`, so a
    second run at the same time (two workers, or a cron run beside `--follow`) POSTs it
    again, and both count an attempt. Only a lost answer should give a receiver an event
    twice (docs/change.md); a delivery in flight should be claimed by the run trying it."""
    holding = Holding()
    try:
        webhook, _ = retail.add_webhook(holding.url, product="checkout.orders", actor=LENA)
        deprecate_orders(retail)
        first = threading.Thread(target=lambda: retail.deliver_webhooks(timeout=5))
        first.start()
        assert holding.first.wait(10)
        retail.deliver_webhooks(timeout=5)  # a second worker, while the first waits
        holding.release.set()
        first.join(10)
        ids = [json.loads(body)["delivery"] for body in holding.received]
        assert len(ids) == len(set(ids)) == 1, ids
        [delivery] = retail.webhook_deliveries(webhook.id)
        assert delivery.attempts == 1
    finally:
        holding.stop()


def test_an_event_committed_after_a_later_one_is_not_lost(
    tmp_path: Path, postgresql_url: str
) -> None:
    """The cursor is the highest event id queued, but ids are handed out when a row is
    inserted, not when its transaction commits: a publish's transaction holding event N
    while a deprecation commits N+1 lets `deliver` move the cursor to N+1, and event N,
    committed just after, is never queued: lost, against "at least once" and "never lost"
    (the outbox claim). On PostgreSQL, as the catalog runs in production."""
    with Mesh.open(tmp_path / "home", catalog_url=postgresql_url) as mesh:
        store = mesh.stores.webhooks
        now = datetime.now(UTC)
        store.add(Webhook(url="http://127.0.0.1:1/hook", created_by="x", created_at=now), "n")
        events = mesh.stores.events
        with mesh.stores.database.engine.connect() as slow, slow.begin():
            # A publish, still registering ...
            events.write(slow, "product.published", now, "checkout.orders", {})
            events.append("product.deprecated", now, "web.sessions", {})  # commits first
            store.enqueue(now)  # a delivery run meanwhile
        store.enqueue(now)  # the next run
        queued = {d.event for d in mesh.webhook_deliveries()}
        told = {e.id for e in mesh.stores.events.events()}
        assert queued == told, (queued, told)


def test_verify_says_no_to_a_signature_header_that_is_not_ascii() -> None:
    """`verify` is what receivers call on the raw `X-Quanta-Signature` header: a header
    with a non-ASCII character makes `hmac.compare_digest` raise TypeError, so a hostile
    request crashes the receiver instead of being refused. It should return False."""
    assert verify(b"secret", "1", b"{}", "sha256=\u00e9") is False


def test_a_receiver_trickling_its_answer_does_not_hold_the_worker(retail: Mesh) -> None:
    """The timeout is per socket read: a receiver sending its status line and then one
    header byte every half second holds the (single, sequential) delivery worker for as
    long as it likes, every other subscriber waiting. No answer within the timeout
    should end the try."""
    stop = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def trickle() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(16):
            if stop.is_set():
                break
            time.sleep(0.5)
            try:
                connection.sendall(b"a")
            except OSError:
                break
        connection.close()

    threading.Thread(target=trickle, daemon=True).start()
    try:
        retail.add_webhook(f"http://127.0.0.1:{port}/hook", product="checkout.orders", actor=LENA)
        deprecate_orders(retail)
        started = time.monotonic()
        retail.deliver_webhooks(timeout=1.0)
        assert time.monotonic() - started < 3.0
    finally:
        stop.set()
        server.close()


# -- the event log -------------------------------------------------------------------------


def test_quanta_events_shows_what_just_happened(retail: Mesh) -> None:
    """`quanta events` lists the log oldest first and stops at --limit (100): on a mesh
    with more events than that, it shows the oldest 100 and
    never the latest; `--follow` then starts from the 100th-oldest. Without --since, the
    command should show the latest events (the last 100, oldest first)."""
    for days in range(10, 110):  # 100 deprecations: 100 more events
        retail.deprecate("sales.daily_revenue", today() + timedelta(days=days), actor=NOOR)
    assert len(retail.events(limit=100_000, actor=NOOR)) > 100
    deprecate_orders(retail)
    result = runner.invoke(
        app, ["events", "--home", str(retail.home), "--json"], env={"QUANTA_USER": INES.name}
    )
    assert result.exit_code == 0, result.output
    last = json.loads(result.output)[-1]
    assert (last["kind"], last["subject"]) == ("product.deprecated", "checkout.orders")


# -- OpenLineage ---------------------------------------------------------------------------


def test_an_openlineage_endpoint_that_is_down_does_not_hold_a_publish(
    tmp_path: Path, source_product: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With QUANTA_OPENLINEAGE_URL pointing at an endpoint that is down, openlineage's
    HttpTransport retries each event (5 tries, back-off 0.3 s doubled, its default retry
    config) inside the publish: each publish is held for many seconds per event. An
    endpoint down must not break, nor hold, a publish."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Mesh.open(tmp_path / "quick") as mesh:
        started = time.monotonic()
        [publication] = mesh.publish(source_product)
        quick = time.monotonic() - started
    assert publication.outcome.ok, publication.reason
    monkeypatch.setenv("QUANTA_OPENLINEAGE_URL", f"http://127.0.0.1:{port}")
    with Mesh.open(tmp_path / "home") as mesh:
        started = time.monotonic()
        [publication] = mesh.publish(source_product)
        slow = time.monotonic() - started
    assert publication.outcome.ok, publication.reason
    assert slow < quick + 2.0, (quick, slow)


def test_retiring_a_product_whose_every_port_is_past_its_sunset(retail: Mesh) -> None:
    """`retire` looks only for an entry of exactly the target: web.sessions, whose one port
    was deprecated with a sunset now passed, is refused as "it is not deprecated" (though
    each read of it warns that it is). A product every port of which is deprecated and
    past its sunset should retire; at the least the refusal should not say it is not
    deprecated."""
    sunset = today() + timedelta(days=5)
    retail.deprecate("web.sessions.sessions", sunset, actor=MIA)
    entry = retail.context.lifecycle.retire(MIA, "web.sessions", today=sunset + timedelta(days=1))
    assert entry.state is State.RETIRED
