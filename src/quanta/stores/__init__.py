"""Metadata stores: the catalog of products, versions, lineage and check results."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from quanta.model.catalog import CheckRecord, Downstream, ProductRecord, SearchHit, Version


class MetadataStore(Protocol):
    name: str

    def product(self, product_id: str) -> ProductRecord | None: ...

    def products(self) -> list[ProductRecord]: ...

    def version(self, product_id: str, version: int | None = None) -> Version | None:
        """One version of a product; the served one when ``version`` is None."""
        ...

    def versions(self, product_id: str) -> list[Version]: ...

    def latest_with_major(self, product_id: str, port: str, major: int) -> Version | None:
        """The newest version whose ``port`` was published under contract major ``major``."""
        ...

    def downstream(self, product_id: str) -> list[Downstream]: ...

    def table_users(self, table: str) -> list[tuple[str, str]]:
        """The (product, port) pairs any version published into the table ``table``."""
        ...

    def search(self, text: str, limit: int = 20) -> list[SearchHit]: ...

    def publish(self, record: ProductRecord, version: Version) -> int:
        """Register a new version and make it the served one, all at once; return its number."""
        ...

    def record_checks(self, record: CheckRecord) -> None:
        """Keep one run of a published version's checks."""
        ...

    def check_history(self, product_id: str, since: datetime) -> list[CheckRecord]:
        """The runs of a product's checks since ``since``, oldest first."""
        ...

    def close(self) -> None: ...
