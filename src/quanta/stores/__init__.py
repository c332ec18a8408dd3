"""Metadata stores: what the mesh knows, one store per capability, all in one database.

``Stores`` holds them: the catalog (products, versions, lineage, search), the history of
check runs, and the event history. Each is behind its own small Protocol, so that a
capability depends on the store it uses and no more; capabilities to come (access, audit,
usage) add theirs beside these, in the same database and the same migration history.
The adapter registered under ``quanta.stores`` is a class called with the database URL
that makes a ``Stores``: the built-in one is ``quanta.stores.sql.SqlStores``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from quanta.model.access import AccessRequest, RequestState
from quanta.model.audit import AuditEntry
from quanta.model.catalog import (
    CheckRecord,
    Downstream,
    PortMoved,
    PortVersion,
    ProductRecord,
    SearchHit,
    Version,
)
from quanta.model.events import Audience, EventRecord, NewEvent
from quanta.model.expectations import Expectation
from quanta.model.lifecycle import LifecycleEntry
from quanta.model.privacy import Erasure, ErasureState, RetentionRun
from quanta.model.usage import ConsumerUsage, DailyUsage, UsageRecord
from quanta.model.webhooks import Delivery, DeliveryState, Webhook

if TYPE_CHECKING:
    from quanta.stores.database import Database

__all__ = [
    "AccessStore",
    "AuditStore",
    "CatalogStore",
    "CheckStore",
    "EventRecord",
    "EventStore",
    "ExpectationStore",
    "LifecycleStore",
    "PrivacyStore",
    "Stores",
    "UsageStore",
    "WebhookStore",
]


class CatalogStore(Protocol):
    """Published products: their versions, output ports, inputs, and search over them."""

    def product(self, product_id: str) -> ProductRecord | None: ...

    def products(self) -> list[ProductRecord]: ...

    def version(self, product_id: str, version: int | None = None) -> Version | None:
        """One version of a product; the served one when ``version`` is None."""
        ...

    def versions(self, product_id: str) -> list[Version]: ...

    def latest_with_major(self, product_id: str, port: str, major: int) -> Version | None:
        """The newest version whose ``port`` was published under contract major ``major``."""
        ...

    def downstream(self, product_id: str) -> list[Downstream]:
        """The products whose served version reads a port of ``product_id``."""
        ...

    def table_users(self, table: str) -> list[tuple[str, str]]:
        """The (product, port) pairs any version published into the table ``table``."""
        ...

    def search(self, text: str, limit: int = 20) -> list[SearchHit]: ...

    def publish(
        self,
        record: ProductRecord,
        version: Version,
        deprecations: Sequence[LifecycleEntry] = (),
        told: dict[str, Any] | None = None,
        expectations: Sequence[Expectation] = (),
    ) -> int:
        """Register a new version and make it the served one, all at once; return its number.

        The version's checks, if any, are kept as a check run (trigger ``"publish"``) in the
        same transaction: the check history never shows a run of a publish that failed. So
        are ``deprecations`` (the majors a new major replaces), and, with ``told``, the
        ``product.published`` event (``told`` and the version's number): the event log
        holds every version published, and no other.
        """
        ...

    def table_ports(self, table: str) -> list[tuple[str, int, PortVersion]]:
        """Every (product, version, port) any version published into the table ``table``."""
        ...

    def move_ports(self, table: str, metadata_location: str, moved: Sequence[PortMoved]) -> int:
        """After the table's snapshots were rewritten, in one transaction: every port of the
        table reads it at ``metadata_location``, and each of ``moved`` that still reads its
        ``before`` snapshot reads its new one, with its files and statistics. The number
        of ports moved."""
        ...

    def scrub_samples(self, values: Collection[str]) -> int:
        """Drop every sample row of a failed check, kept with a version or a check run, that
        holds one of ``values``, and every observed value and reason that does; the number
        dropped."""
        ...


class CheckStore(Protocol):
    """The runs of published versions' checks, kept as history."""

    def record_checks(self, record: CheckRecord, told: dict[str, Any] | None = None) -> None:
        """Keep one run of a published version's checks; with ``told``, its event (the
        ``checks.run`` payload) in the event log, in the same transaction."""
        ...

    def check_history(self, product_id: str, since: datetime) -> list[CheckRecord]:
        """The runs of a product's checks since ``since``, oldest first."""
        ...


class EventStore(Protocol):
    """What happened, appended and never changed: the room for audit and usage history."""

    def append(self, kind: str, at: datetime, subject: str, payload: dict[str, Any]) -> None: ...

    def append_all(self, events: Sequence[NewEvent], *, wait: float | None = None) -> None:
        """Append all of ``events`` or none of them (one transaction), waiting at most
        ``wait`` seconds for the database."""
        ...

    def events(
        self,
        *,
        since: datetime | None = None,
        kinds: Collection[str] = (),
        subject: str | None = None,
        limit: int = 1000,
        after: int | None = None,
        newest: bool = False,
        audience: Audience | None = None,
    ) -> list[EventRecord]:
        """Events at or after ``since``, numbered above ``after``, of any of ``kinds`` (all
        when empty), about ``subject`` (any when None): the oldest ``limit`` of them (the
        newest, with ``newest``), oldest first; with ``audience``, only those it hears
        (`quanta.model.events.Audience.hears`)."""
        ...


class AccessStore(Protocol):
    """Requests to read products and the grants they became; every change is also told in
    the event history, in the same transaction."""

    def add(self, request: AccessRequest) -> AccessRequest:
        """Keep a new request; the one returned has its id."""
        ...

    def request(self, request_id: int) -> AccessRequest | None: ...

    def decide(
        self,
        request_id: int,
        state: RequestState,
        by: str,
        note: str | None,
        at: datetime,
        expires_at: datetime | None,
        *,
        clear_pii: bool = False,
    ) -> AccessRequest | None:
        """Approve or deny a pending request (``clear_pii``: for PII in clear too); None
        when it is not pending any more."""
        ...

    def revoke(
        self, request_id: int, by: str, note: str | None, at: datetime
    ) -> AccessRequest | None:
        """End an approved grant; None when it is not one."""
        ...

    def expire(self, now: datetime) -> list[AccessRequest]:
        """Mark the grants past their end as expired; the ones marked now."""
        ...

    def requests(
        self,
        *,
        product: str | None = None,
        consumer: str | None = None,
        states: Collection[RequestState] = (),
    ) -> list[AccessRequest]:
        """Requests about ``product``, by or for ``consumer``, in ``states``; oldest first."""
        ...

    def dev_build(self, product: str) -> tuple[str, list[str]] | None:
        """The team (and its members) that built ``product``'s dev branch last."""
        ...

    def record_dev_build(
        self, product: str, team: str, members: list[str], by: str, at: datetime
    ) -> None: ...


class UsageStore(Protocol):
    """Every port served to a consumer (`quanta.events.PortServed`), appended after its rows
    were served and never changed; read back summed by consumer or by day."""

    def record(self, reads: Sequence[UsageRecord], *, wait: float | None = None) -> None:
        """Keep ``reads``, all or none. With ``wait``, give up after about that many seconds
        when the database is busy (another process writing): the database's error is raised,
        and the caller keeps the reads for later. A value too long for its column is a
        `ValueError`, before anything is written."""
        ...

    def reads(
        self, *, product: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[UsageRecord]:
        """The reads of ``product`` (any when None) at or after ``since``: the oldest
        ``limit`` of them, oldest first."""
        ...

    def by_consumer(
        self, *, product: str | None = None, since: datetime | None = None
    ) -> list[ConsumerUsage]:
        """The reads summed by product and consumer; the latest reader first."""
        ...

    def by_day(
        self, *, product: str | None = None, since: datetime | None = None
    ) -> list[DailyUsage]:
        """The reads summed by day (UTC), oldest first: only days with reads."""
        ...


class AuditStore(Protocol):
    """The governance audit log: entries appended, numbered and sealed with the hash of the
    one before (`quanta.model.audit`), never changed nor deleted. Two processes appending
    at once make one chain: each entry follows the one committed before it."""

    def append(self, kind: str, actor: str, subject: str, details: dict[str, Any]) -> AuditEntry:
        """Append and commit one entry; the entry as kept. ``details`` is plain JSON that
        names what was decided (ids, columns, policies, counts), never a value of the data.
        A kind, actor or subject the log cannot keep is a `ValueError`."""
        ...

    def entries(
        self,
        *,
        after: int | None = None,
        kind: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """The entries numbered above ``after`` (all when None), of ``kind``, about
        ``subject`` (any when None): the first ``limit`` of them, in order."""
        ...

    def head(self) -> AuditEntry | None:
        """The entry with the highest number; None while the log is empty."""
        ...


class LifecycleStore(Protocol):
    """Deprecations and retirements, each also told in the event history at once."""

    def set(self, entry: LifecycleEntry) -> None:
        """Keep ``entry``, replacing what was said of the same product, port and major."""
        ...

    def entries(self, product_id: str | None = None) -> list[LifecycleEntry]:
        """What was deprecated or retired of ``product_id`` (of every product when None)."""
        ...


class ExpectationStore(Protocol):
    """What consumers need of the ports they read, beyond the contract."""

    def set(self, expectation: Expectation) -> Expectation:
        """Keep it, replacing the consumer's earlier one of the same port and major."""
        ...

    def expectations(
        self, product: str, port: str | None = None, major: int | None = None
    ) -> list[Expectation]: ...


class WebhookStore(Protocol):
    """Subscriptions to the event log, and each event's delivery to each of them: queued
    once, tried until delivered (at least once) or given up on."""

    def add(self, webhook: Webhook, nonce: str) -> Webhook:
        """Keep a new subscription, hearing the events logged from now on; with its id."""
        ...

    def remove(self, webhook_id: int) -> bool: ...

    def webhooks(self) -> list[Webhook]: ...

    def nonce(self, webhook_id: int) -> str | None:
        """What the subscription's signing key is derived from, with the mesh's key."""
        ...

    def enqueue(self, now: datetime, late: float = 600.0) -> int:
        """Queue the events each subscription wants and was not handed yet (also those of
        the last ``late`` seconds: ids are taken at insert, commits come in any order), each
        once; the number queued."""
        ...

    def claim(self, delivery_id: int, now: datetime, until: datetime) -> bool:
        """Take a due delivery for sending until ``until``; False when another run has."""
        ...

    def due(
        self, now: datetime, limit: int = 100
    ) -> list[tuple[Delivery, Webhook, EventRecord]]: ...

    def attempted(
        self,
        delivery_id: int,
        state: DeliveryState,
        at: datetime,
        next_at: datetime,
        error: str | None,
    ) -> None: ...

    def deliveries(self, webhook_id: int | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        ...


class PrivacyStore(Protocol):
    """Subject erasures, saved as they go on so that a second run finishes a killed one."""

    def add(self, erasure: Erasure, sealed: bytes) -> None:
        """Keep a new erasure, and ``sealed``: its subject's identifiers, encrypted."""
        ...

    def erasure(self, erasure_id: str) -> Erasure | None: ...

    def sealed(self, erasure_id: str) -> bytes | None:
        """The encrypted identifiers; None once the erasure is done."""
        ...

    def erasures(
        self, *, product: str | None = None, states: Collection[ErasureState] = ()
    ) -> list[Erasure]:
        """The erasures that touched ``product`` (all when None), in ``states``; oldest
        first."""
        ...

    def save(self, erasure: Erasure, *, forget: bool = False) -> None:
        """Keep the erasure's state, progress and receipt; with ``forget``, empty its
        sealed identifiers for good."""
        ...

    def save_retention(self, run: RetentionRun) -> None:
        """Keep a retention run as it is now (new, going on, or done)."""
        ...

    def retention_runs(self, *, done: bool | None = None) -> list[RetentionRun]:
        """The retention runs (only the finished or unfinished ones), oldest first."""
        ...


@dataclass(eq=False)
class Stores:
    """The stores of one mesh, sharing one database; closing it closes them all."""

    database: Database
    catalog: CatalogStore
    checks: CheckStore
    events: EventStore
    access: AccessStore
    usage: UsageStore
    audit: AuditStore
    privacy: PrivacyStore
    lifecycle: LifecycleStore
    webhooks: WebhookStore
    expectations: ExpectationStore

    def close(self) -> None:
        self.database.close()
