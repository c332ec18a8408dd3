"""What a hostile review of the event log's audience and its spool found, fixed: each
test's docstring tells what the hostile (or merely unlucky) user does and what should
happen."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.events.history import SPOOL_FOLDER, spooled
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.events import NewEvent
from quanta.model.webhooks import DeliveryState
from test_change import LENA
from test_webhooks import Receiver

NOOR = Actor(name="noor.bakker@retail.example")  # owns sales.daily_revenue, reads orders
ANA = Actor(name="ana.lima@retail.example")  # finance: reads nothing
INES = Actor(name="ines.moreau@retail.example")  # the governance group
ZOE = Actor(name="zoe.park@retail.example")  # in no team, reads nothing
runner = CliRunner()


def _spool_lenas_failed_publish(mesh: Mesh) -> None:
    """A failed publish of checkout.orders by Lena, left in the spool."""
    failed = NewEvent(
        kind="product.publish_failed",
        at=datetime.now(UTC),
        subject="checkout.orders",
        payload={"actor": {"name": LENA.name, "kind": "user"}, "step": "build"},
    )
    spooled(mesh.home).keep([failed])


def _grant_of(mesh: Mesh, product: str, consumer: str) -> int:
    [grant] = [
        r
        for r in mesh.access_requests(product=product)
        if r.consumer == consumer and r.state.value == "approved"
    ]
    return grant.id


def test_a_revoked_product_grant_still_hears_everything_through_the_input_rule(
    retail: Mesh,
) -> None:
    """Lena (checkout.orders' owner) revokes the grant of sales.daily_revenue to
    checkout.orders. Noor, sales.daily_revenue's owner, keeps hearing every later event of
    checkout.orders (`quanta events --product checkout.orders`), may still subscribe a
    webhook to it, and a webhook she set up before the revocation keeps delivering: the
    audience also counts "an input of a product they own" (the current version's
    inputs), which no revocation or expiry ends. docs/change.md says "a consumer whose
    grant ended ... hears no more (the delivery is `failed`)". Her product can no longer
    read checkout.orders; the input rule should only count inputs still covered by a live
    grant (or readable without one), so the revocation ends what she hears."""
    receiver = Receiver()
    try:
        webhook, _ = retail.add_webhook(receiver.url, product="checkout.orders", actor=NOOR)
        grant = _grant_of(retail, "checkout.orders", "sales.daily_revenue")
        retail.revoke_access(grant, "no longer needed", actor=LENA)
        sunset = datetime.now(UTC).date() + timedelta(days=40)
        retail.deprecate("checkout.orders", sunset, actor=LENA)  # after the revocation

        heard = [e.kind for e in retail.events(product="checkout.orders", actor=NOOR)]
        retail.deliver_webhooks(timeout=2)
        states = sorted(d.state.value for d in retail.webhook_deliveries(webhook.id))
        sent = [json.loads(body)["kind"] for _, body in receiver.received]
        assert ("product.deprecated" in heard, sent) == (False, []), (
            f"after the revocation Noor hears {heard}; her webhook got {sent} ({states})"
        )
        assert DeliveryState.DELIVERED.value not in states
    finally:
        receiver.stop()


def test_a_spool_file_the_reader_cannot_claim_breaks_quanta_events(
    retail: Mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared mesh home: Lena's failed publish was spooled under events-spool/, a folder
    her process created (mode 0755 under the usual umask). Noor runs `quanta events`: the
    read folds the spool first, the claim (a rename in Lena's folder) raises
    PermissionError, and only FileNotFoundError is caught: `quanta events`, `--mine` and
    `quanta webhooks deliver` fail for every other user until Lena reads the log herself.
    (Simulated with a rename that raises PermissionError: the tests run as root.) Usage
    metering's own fold (catalog/usage.py) already suppresses OSError "a spool that cannot
    be read stays for the next time"; the log's readers should do the same and still
    answer."""
    _spool_lenas_failed_publish(retail)
    rename = Path.rename

    def foreign(self: Path, target: str | Path) -> Path:
        if self.parent.name == SPOOL_FOLDER:
            raise PermissionError(13, "Permission denied", str(self))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", foreign)
    result = runner.invoke(
        app, ["events", "--home", str(retail.home), "--json"], env={"QUANTA_USER": NOOR.name}
    )
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert json.loads(result.output)
    assert retail.notifications(actor=NOOR)  # --mine too


def test_a_spool_file_folds_in_any_kind_it_says_even_a_forged_publish_and_approval(
    retail: Mesh,
) -> None:
    """Zoe can write the mesh home (every CLI user's process writes its spools there). She
    drops a file in events-spool/ with a `product.published` of checkout.orders version 9
    by Lena and an `access.approved` of a grant to her. The next `quanta events` (anyone's)
    folds both into the log as if the catalog had written them: `quanta events` shows a
    publish that never happened and an approval nobody made, and webhooks sign and push
    them to other systems (a downstream pipeline may trigger on product.published). The
    spool only ever holds the kinds keep_history keeps (publish_failed, checks.run of a
    build, change.blocked/proposed, policy.violated); those written in a store's own
    transaction (product.published, access.*, deprecations) should never be folded from a
    file: fold should set aside any other kind."""
    folder = retail.home / SPOOL_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    forged = [
        NewEvent(
            kind="product.published",
            at=now,
            subject="checkout.orders",
            payload={
                "actor": {"name": LENA.name, "kind": "user"},
                "version": 9,
                "ports": ["orders"],
                "rows": 1,
                "seconds": 0.1,
            },
        ),
        NewEvent(
            kind="access.approved",
            at=now,
            subject="customer.profiles",
            payload={
                "request": 999,
                "consumer": ZOE.name,
                "consumer_kind": "user",
                "by": "samir.haddad@retail.example",
                "purpose": "x",
                "port": None,
            },
        ),
    ]
    (folder / "00000000000000000001-1-forged.jsonl").write_text(
        "".join(f"{event.model_dump_json()}\n" for event in forged), "utf-8"
    )
    logged = [(e.kind, e.payload.get("version")) for e in retail.events(actor=INES)]
    assert ("product.published", 9) not in logged, "a forged publish is in the log"
    assert "access.approved" not in [
        e.kind for e in retail.events(product="customer.profiles", actor=INES)
    ]


def test_a_user_named_like_a_product_hears_that_products_access_requests(retail: Mesh) -> None:
    """Anyone may pick a user name that is a product id (QUANTA_USER=sales.daily_revenue,
    or a service principal so named in the teams file). The audience puts the reader's own
    name among the access consumers it hears, without the consumer's kind: this *user*
    hears the access requests and decisions the *product* sales.daily_revenue made of
    checkout.orders (purpose, who asked, expiry), which the rule gives to the product's
    owners only. An access event should be heard by name only when its consumer_kind is
    the reader's (a user or service), and by owned product when it is `product`.
    (Low: locally nothing proves a name, but the rule is the one webhooks and any future
    authenticated front end rely on.)"""
    impostor = Actor(name="sales.daily_revenue")
    told = [
        (e.kind, e.payload.get("consumer"))
        for e in retail.events(product="checkout.orders", actor=impostor)
    ]
    assert ("access.requested", "sales.daily_revenue") not in told
    assert retail.notifications(actor=impostor) == []


def test_a_product_grant_whose_requester_left_the_team_still_hears(retail: Mesh) -> None:
    """Noor asks, for sales.daily_revenue, to read web.sessions (not one of its inputs
    yet); Mia approves. Then Noor leaves the team: the teams file now defines
    sales-analytics as Zed alone. Access no longer honours the grant (a product's grant
    holds only while whoever asked for it is one of its owners, access/__init__.py
    `_grants_of`), so sales.daily_revenue may not read web.sessions, yet the audience
    counts every live grant whose consumer Zed's team owns, without that check: Zed hears
    all of web.sessions' events (and may subscribe a webhook to them). The audience should
    count a product's grant only where access does (requested_by among its owners)."""
    import yaml

    asked = retail.request_access(
        "web.sessions",
        "Sessions per day beside revenue",
        for_product="sales.daily_revenue",
        actor=NOOR,
    )
    retail.approve_access(asked.id, "ok", actor=Actor(name="mia.jensen@retail.example"))
    teams_file = retail.home / "teams.yaml"
    teams = yaml.safe_load(teams_file.read_text())
    teams["teams"].append(
        {"name": "sales-analytics", "members": [{"username": "zed.novak@retail.example"}]}
    )
    teams_file.write_text(yaml.safe_dump(teams))
    retail.close()
    with Mesh.open(retail.home) as mesh:
        zed = Actor(name="zed.novak@retail.example")
        assert mesh.context.access.owns(zed, "sales.daily_revenue")
        from quanta.model.actor import product_actor

        builder = product_actor("sales.daily_revenue", team="sales-analytics", owners=[zed.name])
        assert mesh.context.access._grants_of(builder, "web.sessions") == []  # access: no grant
        heard = mesh.events(product="web.sessions", actor=zed)
        # Of web.sessions he hears only the requests his own product made: as one of its
        # owners now, the requester's side. Nothing else of it.
        assert [e for e in heard if not e.kind.startswith("access.")] == []
        assert {e.payload["consumer"] for e in heard} == {"sales.daily_revenue"}


def test_the_audience_reads_every_grant_of_the_mesh_on_each_poll(retail: Mesh) -> None:
    """A large mesh: 50,000 live grants to other users. Noor runs `quanta events
    --follow`: each one-second poll recomputes her audience, which loads every approved
    grant of the mesh (and every product record) to keep the handful that are hers: about
    3 s of CPU a poll here, for each follower; `quanta webhooks deliver` does it again for
    every subscription, every round (100 subscriptions: minutes a round). The grants that
    matter are found by consumer (indexed: ix_access_requests_consumer) -- the reader's
    name and the products it owns -- and a follow could keep its audience for a while.
    Noor's audience should not cost more with grants that are not hers."""
    from sqlalchemy import insert

    from quanta.events.audience import heard_by
    from quanta.stores import schema

    def timed() -> float:
        start = time.perf_counter()
        heard_by(retail.context, NOOR)
        return time.perf_counter() - start

    alone = timed()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "product_id": "checkout.orders",
            "port": None,
            "consumer": f"user{i}@retail.example",
            "consumer_kind": "user",
            "requested_by": f"user{i}@retail.example",
            "purpose": "Reporting of the orders",
            "days": 90,
            "columns": None,
            "without_private": False,
            "clear_pii": False,
            "state": "approved",
            "requested_at": now,
            "decided_by": LENA.name,
            "decided_at": now,
            "note": None,
            "expires_at": now + timedelta(days=30),
        }
        for i in range(50_000)
    ]
    with retail.stores.database.engine.begin() as connection:
        connection.execute(insert(schema.access_requests), rows)
    crowded = timed()
    assert crowded - alone < 0.5, (
        f"{crowded:.2f}s a poll with others' grants ({alone:.2f}s without)"
    )


def test_reading_the_log_waits_ten_seconds_on_a_busy_catalog_when_events_are_spooled(
    retail: Mesh,
) -> None:
    """A long publish holds the SQLite catalog's write lock; an event kept meanwhile waited
    its 2 s and went to the spool (exactly when the spool fills). Ines runs `quanta events`
    (or a follower polls): the read folds the spool first, with no wait of its own, so it
    blocks on the writer for the connection's whole busy timeout -- 10 s -- before it even
    reads, though WAL readers need no lock; each `--follow` poll does it again, and so does
    each `quanta webhooks deliver` round. history.py's own doc says a reader must not wait on
    a publish holding the catalog. The fold a reader does should wait no longer than
    keeping does (WAIT_SECONDS), or be skipped when the catalog is busy, and the read answer
    at once."""
    import sqlite3

    _spool_lenas_failed_publish(retail)
    database = retail.stores.database.engine.url.database
    assert database is not None
    publisher = sqlite3.connect(database, isolation_level=None)
    publisher.execute("BEGIN IMMEDIATE")  # a publish, holding the catalog
    start = time.perf_counter()
    try:
        found = retail.events(actor=INES)
    finally:
        publisher.execute("ROLLBACK")
        publisher.close()
    took = time.perf_counter() - start
    assert found
    assert took < 3.0, f"quanta events took {took:.1f}s behind a publish"


def test_follow_prints_a_folded_spooled_event_twice(
    retail: Mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event was spooled while the catalog was busy (as keep_history does: with the
    time it happened, a minute ago). Ines runs `quanta events --follow --json`: the first
    read folds it in (a new, highest id, but an older time), lists the log in time order,
    and resumes from the id of the *last listed* event, which is no longer the highest:
    the first poll prints the folded event again. A receiver of the JSON lines sees it
    twice. The follow should resume from the highest id listed (max of the ids), as the
    store's comment says: "by number, so none is told twice"."""
    spooled(retail.home).keep(
        [
            NewEvent(
                kind="product.publish_failed",
                at=datetime.now(UTC) - timedelta(minutes=1),
                subject="checkout.orders",
                payload={"actor": {"name": LENA.name, "kind": "user"}, "step": "build"},
            )
        ]
    )

    class Stop(Exception):
        pass

    polls = iter([None])

    def sleep(_: float) -> None:
        if next(polls, Stop) is Stop:
            raise Stop

    monkeypatch.setattr(time, "sleep", sleep)
    result = runner.invoke(
        app,
        ["events", "--home", str(retail.home), "--json", "--follow"],
        env={"QUANTA_USER": INES.name},
    )
    assert isinstance(result.exception, Stop), result.output
    ids = [json.loads(line)["id"] for line in result.output.splitlines() if line.strip()]
    assert len(ids) == len(set(ids)), f"told twice: {sorted(i for i in ids if ids.count(i) > 1)}"


def test_mine_silently_ignores_product_kind_since_and_follow(retail: Mesh) -> None:
    """Noor runs `quanta events --mine --kind access.approved --product checkout.orders`
    (or `--mine --follow`): --mine returns her newest notifications of every kind and
    product, and exits at once instead of following; --product, --kind and --since are
    dropped without a word. A script that trusts the filter gets events it did not ask
    for. --mine should apply them (or refuse the combination)."""
    result = runner.invoke(
        app,
        [
            "events",
            "--home",
            str(retail.home),
            "--json",
            "--mine",
            "--kind",
            "access.approved",
            "--product",
            "checkout.orders",
        ],
        env={"QUANTA_USER": NOOR.name},
    )
    assert result.exit_code != 0 or {
        (e["kind"], e["subject"]) for e in json.loads(result.output)
    } <= {("access.approved", "checkout.orders")}, result.output
