"""What the catalog knows about published products and their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from quanta.model.result import Outcome, Trigger, worst


class ColumnInfo(BaseModel):
    name: str
    type: str
    logical_type: str
    nullable: bool = True
    primary_key: bool = False
    classification: str | None = None
    description: str | None = None
    pseudonym: bool = False
    """Its pseudonym is stored beside it (`quanta.governance.protection`)."""
    scope: str | None = None
    """What its pseudonyms are keyed for (`quanta.governance.inherit`); None: its own
    column (``domain.product.port.column``)."""
    encrypted: str | None = None
    """Its values are stored encrypted, with this context (`quanta.governance.crypto`)."""
    copies: str | None = None
    """``concept.identifier`` when its contract names no concept and its values are those
    of input columns that are that identifier (SQL lineage): erasure searches it."""
    pseudonyms_of: str | None = None
    """The pseudonym scope its values are pseudonyms of: a copy of private columns its
    build read as their pseudonyms (`quanta.governance.inherit`); erasure searches it for
    the pseudonyms of the subject's identifiers."""


class ColumnStats(BaseModel):
    """What a snapshot's metadata knows about one column, summed over its data files.

    Bounds are kept for numbers, dates and times only, where writers record them exactly
    (text bounds are truncated); dates and times as ISO text. None means unknown.
    """

    nulls: int | None = None
    nans: int | None = None
    lower: int | float | str | None = None
    upper: int | float | str | None = None


class TableStats(BaseModel):
    """Row count and column statistics of one snapshot, from the table's own metadata."""

    rows: int
    columns: dict[str, ColumnStats] = Field(default_factory=dict)


class PortVersion(BaseModel):
    """One output port as published in one version of its product."""

    port: str
    contract_version: str
    table: str
    snapshot_id: int
    metadata_location: str
    location: str
    rows: int
    bytes: int
    description: str | None = None
    columns: list[ColumnInfo] = Field(default_factory=list)
    contract: dict[str, Any] = Field(default_factory=dict)
    files: list[str] | None = None
    """The snapshot's data files, when it has no delete files (see `TableScan`)."""
    stats: TableStats | None = None
    mapped: list[str] | None = None
    """The columns this version declared a mapping of (`quanta.model.product.Mapping`):
    erasure follows them in this version whatever later versions declare; None: none."""

    @property
    def major(self) -> int:
        return int(self.contract_version.split(".")[0])


class PortMoved(BaseModel):
    """One published port whose snapshot was rewritten (retention, erasure): where it reads
    now, and what the new snapshot holds."""

    product: str
    version: int
    port: str
    before: int
    """The snapshot it read until now: the move applies only while it still does."""
    snapshot_id: int
    rows: int
    bytes: int
    files: list[str] | None = None
    stats: TableStats | None = None


class InputUse(BaseModel):
    """What one input port of a version read: another product's port, or a source file."""

    port: str
    upstream: str | None = None
    upstream_port: str | None = None
    upstream_version: int | None = None
    source: str | None = None
    columns: list[str] | None = None
    """The upstream port's columns the transformation reads (its reliance: a change to
    any of them may break it); None where unknown, which relies on every column."""


class Version(BaseModel):
    product: str
    version: int
    published_at: datetime
    seconds: float = 0.0
    ports: list[PortVersion] = Field(default_factory=list)
    inputs: list[InputUse] = Field(default_factory=list)
    checks: list[dict[str, Any]] = Field(default_factory=list)
    code: str | None = None
    """SHA-256 of what it was built from: descriptor, contracts, transformation code
    (`quanta.publishing.records.code_of`); None for versions published before it was kept."""

    @property
    def outcome(self) -> Outcome:
        """The outcome of this version's checks at publish: the worst of them."""
        found = {Outcome(check["outcome"]) for check in self.checks if "outcome" in check}
        return worst([o for o in found if o != Outcome.SKIPPED])

    @property
    def rows(self) -> int:
        return sum(port.rows for port in self.ports)

    @property
    def bytes(self) -> int:
        return sum(port.bytes for port in self.ports)

    def port(self, name: str | None) -> PortVersion | None:
        if name is None:
            return self.ports[0] if len(self.ports) == 1 else None
        return next((port for port in self.ports if port.port == name), None)


class ProductRecord(BaseModel):
    id: str
    domain: str
    name: str
    title: str | None = None
    description: str | None = None
    owner: str
    contact: str = ""
    status: str
    tags: list[str] = Field(default_factory=list)
    folder: str
    current_version: int
    updated_at: datetime
    descriptor: dict[str, Any] = Field(default_factory=dict)


class Downstream(BaseModel):
    """A product whose served version reads a port of another product."""

    product: str
    port: str
    upstream_port: str | None
    upstream_version: int | None


class CheckRecord(BaseModel):
    """One run of a published version's checks, at publish or on demand."""

    product: str
    version: int
    checked_at: datetime
    trigger: Trigger
    outcome: Outcome
    checks: list[dict[str, Any]] = Field(default_factory=list)


class ServiceLevelStatus(BaseModel):
    """How often a measured service level held over a window of days."""

    name: str
    days_met: int
    days_measured: int
    window_days: int

    def __str__(self) -> str:
        return (
            f"{self.name}: met {self.days_met} of the {self.days_measured} days measured "
            f"in the last {self.window_days}"
        )


class SearchHit(BaseModel):
    product: str
    domain: str
    owner: str
    description: str | None = None
    matched: str = ""
