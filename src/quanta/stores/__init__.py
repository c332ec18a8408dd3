"""Metadata stores: what the mesh knows, one store per capability, all in one database.

``Stores`` holds them: the catalog (products, versions, lineage, search), the history of
check runs, and the event history. Each is behind its own small Protocol, so that a
capability depends on the store it uses and no more; capabilities to come (access, audit,
usage) add theirs beside these, in the same database and the same migration history.
The adapter registered under ``quanta.stores`` is a class called with the database URL
that makes a ``Stores``: the built-in one is ``quanta.stores.sql.SqlStores``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from quanta.model.catalog import CheckRecord, Downstream, ProductRecord, SearchHit, Version
from quanta.model.events import EventRecord

if TYPE_CHECKING:
    from quanta.stores.database import Database

__all__ = [
    "CatalogStore",
    "CheckStore",
    "EventRecord",
    "EventStore",
    "Stores",
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

    def publish(self, record: ProductRecord, version: Version) -> int:
        """Register a new version and make it the served one, all at once; return its number.

        The version's checks, if any, are kept as a check run (trigger ``"publish"``) in the
        same transaction: the check history never shows a run of a publish that failed.
        """
        ...


class CheckStore(Protocol):
    """The runs of published versions' checks, kept as history."""

    def record_checks(self, record: CheckRecord) -> None:
        """Keep one run of a published version's checks."""
        ...

    def check_history(self, product_id: str, since: datetime) -> list[CheckRecord]:
        """The runs of a product's checks since ``since``, oldest first."""
        ...


class EventStore(Protocol):
    """What happened, appended and never changed: the room for audit and usage history."""

    def append(self, kind: str, at: datetime, subject: str, payload: dict[str, Any]) -> None: ...

    def events(
        self,
        *,
        since: datetime | None = None,
        kinds: Collection[str] = (),
        subject: str | None = None,
        limit: int = 1000,
    ) -> list[EventRecord]:
        """Events at or after ``since``, of any of ``kinds`` (all when empty), about
        ``subject`` (any when None): the oldest ``limit`` of them, oldest first."""
        ...


@dataclass(eq=False)
class Stores:
    """The stores of one mesh, sharing one database; closing it closes them all."""

    database: Database
    catalog: CatalogStore
    checks: CheckStore
    events: EventStore

    def close(self) -> None:
        self.database.close()
