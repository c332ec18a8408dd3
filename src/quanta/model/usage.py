"""Usage: who read which product, through which grant and for what, and how much.

One `UsageRecord` is kept for every port served (`quanta.events.PortServed`); the reports
(`ConsumerUsage`, `DailyUsage`) sum them up. Nothing here does I/O.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from quanta.model.actor import ActorKind


class ReadKind(StrEnum):
    """How a port was served: to SQL over products, as one table, or to a product's build."""

    QUERY = "query"
    READ = "read"
    BUILD = "build"


class UsageGrouping(StrEnum):
    CONSUMER = "consumer"
    DAY = "day"


class UsageRecord(BaseModel):
    """One port served to one consumer, at one version."""

    at: datetime
    product: str
    port: str
    version: int
    consumer: str
    consumer_kind: ActorKind
    purpose: str
    """The grant's purpose; the reader's own (``"query"``, ``"build"``) without a grant."""
    grant: int | None = None
    """The access request the read went through; None for owners and public ports."""
    read: ReadKind
    rows: int
    bytes: int
    """What was served: a query's result, the table read, or the input port as recorded."""
    seconds: float


class ConsumerUsage(BaseModel):
    """How one consumer read one product over a window."""

    product: str
    consumer: str
    kind: ActorKind
    reads: int
    rows: int
    bytes: int
    last_read: datetime


class DailyUsage(BaseModel):
    """How a product (or the whole mesh) was read on one day (UTC)."""

    day: date
    reads: int
    consumers: int
    rows: int
    bytes: int


class UsageReport(BaseModel):
    """What ``quanta usage`` shows: reads since ``since``, by consumer or by day."""

    product: str | None
    """None: every product."""
    by: UsageGrouping
    days: int
    since: datetime
    consumers: list[ConsumerUsage] = Field(default_factory=list)
    """Filled when ``by`` is ``consumer``: the most recent reader first."""
    daily: list[DailyUsage] = Field(default_factory=list)
    """Filled when ``by`` is ``day``: the days with reads, oldest first."""
    spooled: int = 0
    """Reads kept aside while the catalog was busy and not written yet: not counted here."""
