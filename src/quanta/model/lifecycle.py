"""Where a product, or one major version of one of its output ports, is in its life.

A port is ``active`` until its owners deprecate it (with a sunset date and, perhaps, a
replacement), and ``retired`` after: no longer served, its metadata, lineage and history
kept. Publishing a new major version of a port deprecates the majors before it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel


class State(StrEnum):
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class LifecycleEntry(BaseModel):
    """A deprecation or a retirement of a product (``port`` empty), a port (``major`` 0:
    every major of it) or one major of a port."""

    product: str
    port: str = ""
    major: int = 0
    state: State
    sunset: date | None = None
    """The day a deprecated port may be retired, consumers or not."""
    replacement: str | None = None
    """What to read instead: ``checkout.orders.orders v2``."""
    by: str
    at: datetime
    reason: str = ""

    def covers(self, port: str, major: int) -> bool:
        return self.port in ("", port) and self.major in (0, major)

    @property
    def what(self) -> str:
        """``checkout.orders``, ``checkout.orders.orders``, ``checkout.orders.orders v1``"""
        named = f"{self.product}.{self.port}" if self.port else self.product
        return f"{named} v{self.major}" if self.major else named

    def said(self) -> str:
        """For the reader of a deprecated port: what, until when, and what instead."""
        text = f"{self.what} is {self.state.value}"
        if self.sunset is not None:
            text += f" (sunset {self.sunset.isoformat()})"
        if self.replacement:
            text += f": read {self.replacement} instead"
        return text
