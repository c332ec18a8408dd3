"""Who hears what of the event log: `quanta events`, its ``--mine``, and webhooks all ask
here (`quanta.model.events.Audience` says which events one reader hears)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from quanta.model.access import RequestState
from quanta.model.actor import Actor, ActorKind
from quanta.model.events import Audience

if TYPE_CHECKING:
    from quanta.context import MeshContext


def heard_by(mesh: MeshContext, actor: Actor) -> Audience | None:
    """What ``actor`` may read of the log; None for the governance group, which reads all."""
    if actor.name in mesh.access.directory.governance():
        return None
    return audience_of(mesh, actor)


def audience_of(mesh: MeshContext, actor: Actor, now: datetime | None = None) -> Audience:
    """What concerns ``actor`` in the log: of the products its teams own, of those they
    read, and its own access requests."""
    access = mesh.access
    now = now or datetime.now(UTC)
    catalog = mesh.stores.catalog
    owned = frozenset(
        record.id for record in catalog.products() if access.directory.owns(actor, record)
    )
    read: set[str] = set()
    for product in owned:  # what its own products read
        version = catalog.version(product)
        read |= {use.upstream for use in (version.inputs if version else []) if use.upstream}
    for grant in access.requests(states=[RequestState.APPROVED]):
        if not grant.live(now):
            continue
        if grant.consumer_kind == ActorKind.PRODUCT:
            if grant.consumer in owned:
                read.add(grant.product)
        elif grant.consumer == actor.name and actor.kind != ActorKind.PRODUCT:
            read.add(grant.product)
    return Audience(
        by=actor.name,
        owned=owned,
        read=frozenset(read - owned),
        consumers=owned | {actor.name},
    )
