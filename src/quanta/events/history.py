"""The built-in subscriber that keeps in the event log what happened to products and left
nothing else behind: failed publishes, a build's checks, blocked and proposed changes, and
policies violated, each with who did it.

What changes the catalog is logged by the store that changes it, in the same transaction
(an outbox): a publish (`CatalogStore.publish`), a deprecation or a retirement, an access
request and its decision, the checks of a published version (`CheckStore.record_checks`).
The events kept here have no such transaction: what they tell is that something did *not*
happen, or not yet. So that none is lost, an event the log cannot take now (the catalog
busy past its wait, or unreachable) is kept in a spool under the mesh home
(`quanta.events.spool`) and folded in by the next event kept, or by whoever reads the log
(`fold`), with the time it happened: the log reads in time order.

Reads are not kept here: one write per query would make every reader wait on a publish
holding the catalog (usage metering keeps them, batched, in a store of its own).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.events import (
    ChangeBlocked,
    ChangeProposed,
    ChecksRun,
    Event,
    PolicyViolated,
    PublishFailed,
    Subscriber,
)
from quanta.events.spool import Spool
from quanta.model.events import NewEvent

if TYPE_CHECKING:
    from quanta.mesh import Mesh
    from quanta.stores import EventStore

log = logging.getLogger("quanta.events.history")

KEPT = (PublishFailed, ChecksRun, ChangeBlocked, ChangeProposed, PolicyViolated)
KINDS = frozenset(kept.kind for kept in KEPT)
SPOOL_FOLDER = "events-spool"
"""The folder in the mesh home of events not yet in the log."""
WAIT_SECONDS = 2.0
"""How long keeping an event waits for the catalog (a publish in another process holding
its write lock) before it spools the event instead."""
READ_WAIT_SECONDS = 0.2
"""How long a reader of the log waits for the catalog to fold the spool in first."""


def keep_history(mesh: Mesh) -> Subscriber:
    events = mesh.stores.events
    spool = spooled(mesh.home)

    def keep(event: Event) -> None:
        if not isinstance(event, KEPT):
            return
        if isinstance(event, ChecksRun) and event.version is not None:
            return  # a published version's checks: logged with their record
        payload = event.payload()
        # A failed publish's reason may quote the product's own error message, where a
        # value of the data can hide: the history keeps where it stopped, not why.
        payload.pop("reason", None)
        told = NewEvent(kind=event.kind, at=event.at, subject=event.subject, payload=payload)
        try:
            events.append_all([told], wait=WAIT_SECONDS)
        except ValueError:  # a subject too long for its column: it never will fit
            log.warning("a %s event could not be kept: its subject is too long", event.kind)
            return
        except Exception as error:  # busy past its wait, or unreachable: kept for later
            spool.keep([told])
            log.info("a %s event was spooled: %s", event.kind, type(error).__name__)
            return
        if spool.pending():
            spool.fold(partial(_append_kept, events, WAIT_SECONDS))

    return keep


def spooled(home: Path) -> Spool[NewEvent]:
    """The events of the mesh at ``home`` that the log could not take yet."""
    return Spool(home / SPOOL_FOLDER, NewEvent)


def fold(home: Path, events: EventStore) -> int:
    """Write the spooled events into the log; how many were written. A reader of the log
    waits on the catalog only briefly (`READ_WAIT_SECONDS`), and a spool it may not
    claim (another user's files, on a shared home) stays for its owner: reading goes on."""
    spool = spooled(home)
    try:
        return (
            spool.fold(partial(_append_kept, events, READ_WAIT_SECONDS)) if spool.pending() else 0
        )
    except OSError as error:
        log.info("the spooled events stay spooled: %s", type(error).__name__)
        return 0


def _append_kept(events: EventStore, wait: float, told: list[NewEvent]) -> None:
    """Append ``told``, of the kinds this subscriber keeps only: a file claiming another
    kind (a publish, an approval, written by the stores in their own transactions) was not
    written by it, and is set aside (`ValueError`)."""
    if any(event.kind not in KINDS for event in told):
        raise ValueError("a spooled event of a kind the history does not keep")
    events.append_all(told, wait=wait)
