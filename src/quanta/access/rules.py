"""The access read rule: the read path refuses a port without a live grant, and narrows
it to the columns the grants cover."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quanta.model.actor import Actor
from quanta.model.relations import Exposed
from quanta.reading import PublishedPort, ReadRule

if TYPE_CHECKING:
    from quanta.access import Access


def granted(access: Access) -> ReadRule:
    """Owners read their own products, everyone reads public ports, anyone else reads what
    a live grant covers; a read without one is refused with whom to ask and how."""

    def rule(
        actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]
    ) -> tuple[Exposed, ...]:
        allowed = access.columns_for(actor, port.product, port.port)
        if allowed is None:
            return columns
        return tuple(column for column in columns if column.name in allowed)

    return rule
