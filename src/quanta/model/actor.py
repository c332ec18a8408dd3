"""Who does something on the mesh, and for what: every read and publish carries one."""

from __future__ import annotations

import getpass
from enum import StrEnum

from pydantic import BaseModel


class ActorKind(StrEnum):
    USER = "user"
    TEAM = "team"
    SERVICE = "service"
    PRODUCT = "product"
    """A data product: its build reads its inputs as the product itself."""


class Actor(BaseModel, frozen=True):
    """A principal and the purpose it acts for (``"query"``, ``"build"``, a stated reason)."""

    name: str
    kind: ActorKind = ActorKind.USER
    purpose: str = ""

    def acting_for(self, purpose: str) -> Actor:
        return self.model_copy(update={"purpose": purpose})

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"


def local_user() -> Actor:
    """Whoever runs this process: until access control lands, it may read everything."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no entry for the uid, as in some containers
        name = "local"
    return Actor(name=name)


def product_actor(product_id: str, purpose: str = "build") -> Actor:
    return Actor(name=product_id, kind=ActorKind.PRODUCT, purpose=purpose)
