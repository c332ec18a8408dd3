"""Who does something on the mesh, and for what: every read and publish carries one."""

from __future__ import annotations

import getpass
import os
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
    team: str | None = None
    """For a product: its owning team, as the product being built declares it."""

    def acting_for(self, purpose: str) -> Actor:
        return self.model_copy(update={"purpose": purpose})

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"


ANONYMOUS = "anonymous"
"""The identity of whoever is not known: it reads only public ports."""


def local_user(name: str | None = None) -> Actor:
    """The configured identity: ``name``, else ``QUANTA_USER``, else the login name of
    whoever runs this process. An empty name is the anonymous identity.

    Locally nothing proves a name: whoever runs Quanta may set any (docs/access.md).
    """
    if name is None:
        name = os.environ.get("QUANTA_USER")
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no entry for the uid, as in some containers
            name = ANONYMOUS
    return Actor(name=name.strip() or ANONYMOUS)


def product_actor(product_id: str, purpose: str = "build", team: str | None = None) -> Actor:
    return Actor(name=product_id, kind=ActorKind.PRODUCT, purpose=purpose, team=team)
