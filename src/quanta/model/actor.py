"""Who does something on the mesh, and for what: every read and publish carries one."""

from __future__ import annotations

import getpass
import os
import unicodedata
from collections.abc import Collection
from enum import StrEnum

from pydantic import BaseModel, field_validator


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
    owners: tuple[str, ...] = ()
    """For a product: the members of that team (its grants hold while one asked)."""

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value or len(value) > 255 or _controls(value):
            raise ValueError("an identity is one line of 1 to 255 characters")
        return value

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
    name = name.strip()
    if _controls(name) or len(name) > 255:
        from quanta.errors import ConfigError

        raise ConfigError(
            "QUANTA_USER is not a valid identity: one line of at most 255 characters, "
            "without control characters"
        )
    return Actor(name=name or ANONYMOUS)


def product_actor(
    product_id: str,
    purpose: str = "build",
    team: str | None = None,
    owners: Collection[str] = (),
) -> Actor:
    return Actor(
        name=product_id,
        kind=ActorKind.PRODUCT,
        purpose=purpose,
        team=team,
        owners=tuple(sorted(owners)),
    )


def _controls(text: str) -> bool:
    return any(unicodedata.category(character)[0] == "C" for character in text)
