"""The built-in subscriber that keeps what happened to products in the event store: failed
publishes, check runs, blocked changes and policies violated, each with who did it. A
publish is kept by the catalog itself, in the transaction that registers it
(`CatalogStore.publish`).

Reads are not kept here: one write per query would make every reader wait on a publish
holding the catalog (usage metering keeps them, batched, in a store of its own).
"""

from __future__ import annotations

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

if TYPE_CHECKING:
    from quanta.mesh import Mesh

KEPT = (PublishFailed, ChecksRun, ChangeBlocked, ChangeProposed, PolicyViolated)


def keep_history(mesh: Mesh) -> Subscriber:
    events = mesh.stores.events

    def keep(event: Event) -> None:
        if isinstance(event, KEPT):
            payload = event.payload()
            # A failed publish's reason may quote the product's own error message, where a
            # value of the data can hide: the history keeps where it stopped, not why.
            payload.pop("reason", None)
            events.append(event.kind, event.at, event.subject, payload)

    return keep
