"""Hostile review of the event log's audience and its spool: the findings still open
(the fixed ones are in tests/test_event_log_hostile.py). Each test tells what a hostile
(or merely unlucky) user does, what happens, and what should. Not collected (no test_
prefix): copy to tests/test_tmp_hostile_events.py to run it with the suite's fixtures.
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
