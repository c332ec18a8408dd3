"""Who hears what of the event log: `quanta events`, its ``--mine``, and webhooks all ask
here (`quanta.model.events.Audience` says which events one reader hears)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from quanta.model.access import RequestState, access_rules
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
    read as the read path lets them (a live grant, or a public port), and its own access
    requests."""
    access = mesh.access
    now = now or datetime.now(UTC)
    catalog = mesh.stores.catalog
    records = {record.id: record for record in catalog.products()}
    owned = frozenset(
        product for product, record in records.items() if access.directory.owns(actor, record)
    )
    read: set[str] = set()
    # A person's own live grants, and each owned product's: those hold while whoever asked
    # is still one of the product's owners, as the read path has it.
    if actor.kind != ActorKind.PRODUCT:
        live = access.requests(consumer=actor.name, states=[RequestState.APPROVED])
        read |= {g.product for g in live if g.consumer_kind != ActorKind.PRODUCT and g.live(now)}
    for product in owned:
        owners = access.directory.owners(records[product])
        for grant in access.requests(consumer=product, states=[RequestState.APPROVED]):
            if (
                grant.consumer_kind == ActorKind.PRODUCT
                and grant.live(now)
                and grant.requested_by in owners
            ):
                read.add(grant.product)
        # Its inputs read without a grant: the public ones.
        version = catalog.version(product)
        for use in version.inputs if version else []:
            upstream = records.get(use.upstream or "")
            port = use.upstream_port
            if upstream is not None and port and access_rules(upstream.descriptor).is_public(port):
                read.add(upstream.id)
    return Audience(by=actor.name, owned=owned, read=frozenset(read - owned))
