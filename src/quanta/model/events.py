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
