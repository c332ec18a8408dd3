"""The built-in subscriber that meters usage: every port served (`PortServed`) is kept in
the usage store, with the grant the read went through and the purpose it was for.

Metering never slows or fails a read. The event bus already contains a subscriber's
errors; beyond that, the write waits at most `WAIT_SECONDS` for the catalog (a publish in
another process holds SQLite's write lock while it commits). A read that could not be
written is kept in the spool under the mesh home, and the next write, or ``quanta usage``,
folds it into the store: nothing is lost, and no reader waits on a publish.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.events import Event, PortServed, Subscriber, spool
from quanta.model.access import AccessRequest, RequestState
from quanta.model.actor import ActorKind
from quanta.model.usage import UsageRecord

if TYPE_CHECKING:
    from quanta.mesh import Mesh
    from quanta.stores import AccessStore, UsageStore

log = logging.getLogger("quanta.events.usage")

WAIT_SECONDS = 0.2
"""How long a read's metering may wait for the catalog before it spools the read instead."""
SPOOL_FOLDER = "usage-spool"
"""The spool's folder in the mesh home."""
FOLD_FILES = 200
"""At most this many spooled writes are folded in after one read: one insert, still quick."""


def meter_usage(mesh: Mesh) -> Subscriber:
    usage, access = mesh.stores.usage, mesh.stores.access
    reads = Spool(mesh.home / SPOOL_FOLDER)

    def meter(event: Event) -> None:
        if not isinstance(event, PortServed):
            return
        read = usage_record(access, event)
        try:
            usage.record([read], wait=WAIT_SECONDS)
        except ValueError:  # a name too long for its column: it never will fit
            log.warning("a read of %s could not be metered: a name is too long", event.subject)
            return
        except Exception as error:  # busy, or unreachable: kept, and written later
            reads.keep([read])
            log.info("a read of %s was spooled: %s", event.subject, type(error).__name__)
            return
        if reads.pending():
            reads.fold_into(usage, wait=WAIT_SECONDS, files=FOLD_FILES)

    return meter


def usage_record(access: AccessStore, event: PortServed) -> UsageRecord:
    """What the usage store keeps of ``event``: with the grant it was read through."""
    try:
        grant = grant_of(access, event)
    except Exception as error:  # the catalog unreachable: the read is still metered
        log.info("the grant of a read of %s is not known: %s", event.subject, type(error).__name__)
        grant = None
    return UsageRecord(
        at=event.at,
        product=event.subject,
        port=event.port,
        version=event.version,
        consumer=event.actor.name,
        consumer_kind=event.actor.kind,
        purpose=grant.purpose if grant is not None else event.actor.purpose,
        grant=grant.id if grant is not None else None,
        read=event.read,
        rows=event.rows,
        bytes=event.bytes,
        seconds=event.seconds,
    )


def grant_of(access: AccessStore, event: PortServed) -> AccessRequest | None:
    """The first grant live when ``event`` happened that covers its port, for its reader
    (a product's grants for a product, a person's for a person); None for owners and
    public ports, which read without one."""
    product = event.actor.kind == ActorKind.PRODUCT
    for grant in access.requests(
        product=event.subject, consumer=event.actor.name, states=[RequestState.APPROVED]
    ):
        if (
            grant.live(event.at)
            and grant.covers(event.port)
            and (grant.consumer_kind == ActorKind.PRODUCT) == product
        ):
            return grant
    return None


class Spool(spool.Spool[UsageRecord]):
    """Reads not yet in the usage store (`quanta.events.spool`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, UsageRecord)

    def fold_into(self, store: UsageStore, *, wait: float | None, files: int | None = None) -> int:
        """Write up to ``files`` spooled files into ``store`` in one insert; the number
        of reads written."""
        return self.fold(partial(store.record, wait=wait), files=files)
