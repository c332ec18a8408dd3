"""Webhook subscriptions to the event log, and the deliveries made of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Webhook(BaseModel):
    """Events POSTed to ``url``: of one product, of one domain, or of every product (for
    the governance group), of the ``kinds`` given (all when empty)."""

    id: int = 0
    url: str
    product: str | None = None
    domain: str | None = None
    kinds: list[str] = Field(default_factory=list)
    created_by: str
    created_at: datetime
    start: int = 0
    """The log's last event when it was made: it hears only those after."""
    cursor: int = 0
    """The highest event of the log it has been handed (queued for delivery)."""

    def wants(self, kind: str, subject: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.product is not None:
            return subject == self.product
        if self.domain is not None:
            return subject.split(".")[0] == self.domain
        return True


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Given up on after `quanta.events.webhooks.GIVE_UP` of tries."""
    WITHHELD = "withheld"
    """Not sent: who subscribed may not hear it (another consumer's access request)."""


class Delivery(BaseModel):
    id: int
    webhook: int
    event: int
    state: DeliveryState
    attempts: int = 0
    next_at: datetime
    last_error: str | None = None
    """Why the last attempt failed: an HTTP status, a timeout, a refused connection."""
    delivered_at: datetime | None = None
