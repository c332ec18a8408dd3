"""Events: one thing that happened, as the event store keeps and returns it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EventRecord(BaseModel):
    """One event: what happened (``kind``), to what (``subject``), when, and its details.

    ``kind`` and ``subject`` are free text chosen by the capability that appends them
    (``"access.granted"``, ``"checkout.orders"``); the store reads them back by subject over
    time, and by kind. ``id`` orders events appended at the same instant.
    """

    id: int
    kind: str
    at: datetime
    subject: str
    payload: dict[str, Any] = Field(default_factory=dict)


class NewEvent(BaseModel):
    """An event to append: an `EventRecord` before the store gives it its number."""

    kind: str
    at: datetime
    subject: str
    payload: dict[str, Any] = Field(default_factory=dict)


ACCESS_KINDS = "access."
"""The kinds of access requests and decisions start so: ``access.requested``..."""


class Audience(BaseModel, frozen=True):
    """What of the event log one reader (``by``) hears: what it did, everything of the
    products its teams own (``owned``), and of those it reads (``read``) all but the access
    requests, which concern the requester alone: the reader itself (a consumer that is not
    a product) or a product it owns.

    The governance group hears everything: it has no audience to keep it to.
    """

    by: str = ""
    """The reader: it hears what it did itself (a first publish that failed: no product is
    registered yet to own)."""
    owned: frozenset[str] = frozenset()
    read: frozenset[str] = frozenset()

    def concerns(self, product: str) -> bool:
        """Whether the product is one the reader owns or reads."""
        return product in self.owned or product in self.read

    def hears(self, kind: str, subject: str, payload: dict[str, Any]) -> bool:
        actor = payload.get("actor")
        if subject in self.owned or (isinstance(actor, dict) and actor.get("name") == self.by):
            return True
        if kind.startswith(ACCESS_KINDS):
            consumer = payload.get("consumer")
            if payload.get("consumer_kind") == "product":
                return consumer in self.owned
            return consumer == self.by
        return subject in self.read
