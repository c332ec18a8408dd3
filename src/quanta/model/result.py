"""Outcomes are data: what a validation, a check, a build or a publish found."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from quanta.model.findings import Finding


class Outcome(StrEnum):
    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def ok(self) -> bool:
        return self in (Outcome.PASSED, Outcome.WARNED, Outcome.SKIPPED)


class Severity(StrEnum):
    """How much a broken rule matters: ``error`` blocks a publish; the others are kept."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Trigger(StrEnum):
    """What ran a published version's checks: its publish, or a check on demand."""

    PUBLISH = "publish"
    CHECK = "check"


def worst(outcomes: list[Outcome]) -> Outcome:
    """The outcome that matters most among several (an empty list has passed)."""
    order = [Outcome.ERROR, Outcome.FAILED, Outcome.WARNED, Outcome.PASSED, Outcome.SKIPPED]
    for outcome in order:
        if outcome in outcomes:
            return outcome
    return Outcome.PASSED


class Issue(BaseModel):
    """One thing wrong with a product's files, pointing at where it is."""

    file: str
    line: int | None = None
    field: str = ""
    value: Any = None
    message: str
    hint: str | None = None

    def location(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} ({self.field})" if self.field else where


class Validation(BaseModel):
    product: str
    path: str
    issues: list[Issue] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    """The federation's policies that fail on the product, as its team is told them
    (`quanta.governance`): blocking ones, and warnings (grace periods with their day)."""
    changes: list[str] = Field(default_factory=list)
    """What its changes to the served contracts would break (`quanta.lifecycle.impact`):
    the consumers a breaking change breaks, or the breaking changes nobody relies on."""
    breaks_consumers: bool = False
    """Whether a change breaks a consumer: publishing it is stopped."""

    @property
    def blocked(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.blocks]

    @property
    def outcome(self) -> Outcome:
        if self.issues or self.blocked or self.breaks_consumers:
            return Outcome.FAILED
        return Outcome.WARNED if self.findings or self.changes else Outcome.PASSED


class Check(BaseModel):
    """One rule checked on an output port's data."""

    name: str
    port: str
    outcome: Outcome
    reason: str = ""
    observed: Any = None
    expected: Any = None
    severity: Severity = Severity.ERROR
    samples: list[dict[str, Any]] = Field(default_factory=list)
    """A few failing rows, without the columns classified as PII or restricted."""
    kind: str = ""
    """What is checked, as the contract names it: ``type``, ``required``, ``nullValues``,
    ``minimum``, ``sql``, ``freshness``..."""
    columns: list[str] = Field(default_factory=list)
    """The columns the check concerns (none: the whole table)."""
    location: str = ""
    """Where the contract declares what is checked, as a dotted path."""
    line: int | None = None
    """The line of the contract file ``location`` is written at, where known."""


class CheckRun(BaseModel):
    product: str
    version: int | None = None
    checks: list[Check] = Field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        return worst([check.outcome for check in self.checks])


class PortBuild(BaseModel):
    port: str
    rows: int
    bytes: int
    table: str
    snapshot_id: int


class Build(BaseModel):
    product: str
    outcome: Outcome
    reason: str = ""
    ports: list[PortBuild] = Field(default_factory=list)
    seconds: float = 0.0
    log: list[str] = Field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(port.rows for port in self.ports)

    @property
    def bytes(self) -> int:
        return sum(port.bytes for port in self.ports)


class Publication(BaseModel):
    """What ``quanta publish`` did: every step's result, and the version it made, if any."""

    product: str
    outcome: Outcome
    reason: str = ""
    version: int | None = None
    validation: Validation | None = None
    build: Build | None = None
    checks: CheckRun | None = None
    seconds: float = 0.0
