"""Hostile review of the event log's audience and its spool (commit 9e41a93 and after).

Each test is a finding: what a hostile (or merely unlucky) user does, what happens, and
what should. Not collected (no test_ prefix): copy to tests/test_tmp_hostile_events.py
to run it with the suite's fixtures.
"""

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
        retail.revoke_access(_grant_of(retail, "checkout.orders", "sales.daily_revenue"),
                             "no longer needed", actor=LENA)
        sunset = datetime.now(UTC).date() + timedelta(days=40)
        retail.deprecate("checkout.orders", sunset, actor=LENA)  # after the revocation

        heard = [e.kind for e in retail.events(product="checkout.orders", actor=NOOR)]
        assert "product.deprecated" not in heard, "Noor still hears checkout.orders"
        done = retail.deliver_webhooks(timeout=2)
        assert receiver.received == [], "the webhook still delivers after the revocation"
        states = {d.state for d in retail.webhook_deliveries(webhook.id)}
        assert DeliveryState.DELIVERED not in states
        assert done.delivered == 0
    finally:
        receiver.stop()


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
    spooled(retail.home).keep(
        [
            NewEvent(
                kind="product.publish_failed",
                at=datetime.now(UTC),
                subject="checkout.orders",
                payload={"actor": {"name": LENA.name, "kind": "user"}, "step": "build"},
            )
        ]
    )
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
            payload={"actor": {"name": LENA.name, "kind": "user"}, "version": 9,
                     "ports": ["orders"], "rows": 1, "seconds": 0.1},
        ),
        NewEvent(
            kind="access.approved",
            at=now,
            subject="customer.profiles",
            payload={"request": 999, "consumer": ZOE.name, "consumer_kind": "user",
                     "by": "samir.haddad@retail.example", "purpose": "x", "port": None},
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
