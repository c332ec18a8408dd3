"""Privacy operations, as data: subject erasures and their receipts, retention runs and
their evidence. Nothing here does I/O: `quanta.privacy` carries them out.

A receipt says what was removed where, never what: counts, product, version and port
names, the verification query (its literals replaced by ``?``) and its result. The subject
appears only as a keyed hash (`Erasure.subject`), which the mesh's key can recompute for a
given id and nobody else can reverse.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

from quanta.model.audit import canonical_json


class ErasureState(StrEnum):
    PLANNED = "planned"
    """Recorded, with the subject's identifiers found through the mappings; nothing
    deleted yet."""
    ERASING = "erasing"
    """Deleting the subject's rows, table by table."""
    REBUILDING = "rebuilding"
    """Republishing the products that derived data from what was deleted."""
    DONE = "done"
    """Finished: the receipt is final, the identifiers are forgotten."""


class PortRewritten(BaseModel):
    """What rewriting a table without some rows did to one output port at one version."""

    product: str
    version: int
    port: str
    table: str
    rows_removed: int
    files_rewritten: int = 0
    """Data files of the version that were replaced or dropped."""
    files_written: int = 0
    verification: str = ""
    """The query that counted the matching rows left, its values shown as ``?``."""
    remaining: int | None = None
    """What that query counted afterwards: 0, or None while not verified."""


class PortErased(PortRewritten):
    """What an erasure did to one output port at one version."""


class TableSwept(BaseModel):
    """Old snapshots expired and files removed from one table's folder."""

    table: str
    snapshots: int
    files: int
    bytes: int


class Rebuilt(BaseModel):
    """A product republished because data it derived from was removed."""

    product: str
    outcome: str
    version: int | None = None
    """The new version; None when it was left as it was (unchanged, or it failed)."""
    reason: str = ""


class SourceKept(BaseModel):
    """A source file a product that lost rows reads: data Quanta reads but does not own.
    The subject may still be in it; erasing there is its owners' part."""

    product: str
    port: str
    source: str


class ErasureRequest(BaseModel):
    """What was asked: whose data (by concept, identifier type and keyed hash), why, by
    whom and when."""

    id: str
    concept: str
    identifier: str
    subject: str
    """The keyed hash of the identifier it was asked for (`quanta.privacy.erasure`)."""
    reason: str
    requested_by: str
    requested_at: datetime


class ErasureReceipt(ErasureRequest):
    """The proof of one finished erasure: per product and version what was deleted and
    the verification that nothing is left; overall its id, time and a hash over it all."""

    finished_at: datetime
    identifiers: dict[str, int] = Field(default_factory=dict)
    """How many identifiers of each type (``customer.user_id``) the subject had."""
    ports: list[PortErased] = Field(default_factory=list)
    swept: list[TableSwept] = Field(default_factory=list)
    rebuilt: list[Rebuilt] = Field(default_factory=list)
    scrubbed_samples: int = 0
    """Sample rows of failed checks kept in the catalog that held the subject."""
    sources: list[SourceKept] = Field(default_factory=list)
    """The source files the products that lost rows read, which Quanta does not change."""
    dropped: list[str] = Field(default_factory=list)
    """The tables no version served (dev builds of products never published), dropped."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of everything else in the receipt (without
        ``dropped`` when empty: receipts made before it existed keep their hash)."""
        body = self.model_dump(mode="json", exclude={"hash"})
        if not body["dropped"]:
            del body["dropped"]
        return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()

    @property
    def rows_removed(self) -> int:
        return sum(port.rows_removed for port in self.ports)

    @property
    def products(self) -> list[str]:
        return sorted(
            {port.product for port in self.ports if port.rows_removed}
            | {rebuilt.product for rebuilt in self.rebuilt if rebuilt.version is not None}
        )


class Erasure(ErasureRequest):
    """One erasure as recorded: resumable until it is done."""

    state: ErasureState
    progress: dict[str, Any] = Field(default_factory=dict)
    """What is done so far, table by table: what a second run skips."""
    products: list[str] = Field(default_factory=list)
    """The products whose data it touched (deleted from, or republished)."""
    receipt: ErasureReceipt | None = None
    finished_at: datetime | None = None


class PortRetained(PortRewritten):
    """What a retention run removed from one output port at one version."""

    column: str
    limit: str
    """The declared retention, as the contract states it (``13 months``)."""
    cutoff: datetime


class RetentionSkipped(BaseModel):
    """A product a retention run could not enforce retention on, and why."""

    product: str
    port: str
    reason: str


class RetentionRun(BaseModel):
    """The evidence of one retention run over one product or the whole mesh; saved as it
    goes on, so that the next run finishes one a kill stopped."""

    id: str
    at: datetime
    by: str
    product: str | None = None
    """The one product it covers; None: every product."""
    done: bool = False
    progress: dict[str, Any] = Field(default_factory=dict)
    finished_at: datetime | None = None
    ports: list[PortRetained] = Field(default_factory=list)
    skipped: list[RetentionSkipped] = Field(default_factory=list)
    swept: list[TableSwept] = Field(default_factory=list)

    @property
    def rows_removed(self) -> int:
        return sum(port.rows_removed for port in self.ports)
