"""Federated governance, as data: policies, how each classification is protected, and what
evaluating the policies found. Nothing here does I/O or evaluates anything:
`quanta.governance` loads the governance folder, compiles and evaluates the policies, and
protects the reads.

A governance folder holds ``governance.yaml`` (the protections, who may ask for PII in
clear, which default policies are off) and ``policies/*.yaml`` (the federation's own
policies, beside or instead of the defaults).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from quanta.model.contract import CLASSIFICATIONS

# What evaluating found lives apart (every check result carries it); told here too.
from quanta.model.findings import Finding as Finding
from quanta.model.findings import RolloutState as RolloutState
from quanta.model.findings import Severity as Severity

POLICY_ID = r"^[a-z][a-z0-9-]{1,63}$"


class _Folder(BaseModel):
    """A part of a governance file: camelCase keys, unknown ones refused (a typo is an
    error at its line, not a rule silently off)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Scope(_Folder):
    """Which products a policy concerns: all of them, or those matching every list set."""

    domains: list[str] | None = None
    kinds: list[str] | None = None
    """Product kinds, from the descriptor's tags: source-aligned, aggregate, consumer-aligned."""
    classifications: list[str] | None = None
    """Products holding a column of one of these levels; a column policy then looks at
    those columns only."""
    products: list[str] | None = None

    def said(self) -> str:
        """The scope in words: ``domains: sales; kinds: source-aligned``."""
        parts = [
            f"{name}: {', '.join(values)}"
            for name, values in (
                ("domains", self.domains),
                ("kinds", self.kinds),
                ("classifications", self.classifications),
                ("products", self.products),
            )
            if values is not None
        ]
        return "; ".join(parts) or "every product"

    @field_validator("classifications")
    @classmethod
    def _known_levels(cls, value: list[str] | None) -> list[str] | None:
        for level in value or []:
            if level not in CLASSIFICATIONS:
                raise ValueError(
                    f"unknown classification {level!r}: use one of {', '.join(CLASSIFICATIONS)}"
                )
        return value


class Rollout(_Folder):
    state: RolloutState = RolloutState.ENFORCED
    until: date | None = None
    """The last day of a grace period."""

    @model_validator(mode="after")
    def _grace_has_a_deadline(self) -> Rollout:
        if self.state == RolloutState.GRACE and self.until is None:
            raise ValueError("a grace period needs its last day: until: YYYY-MM-DD")
        if self.state != RolloutState.GRACE and self.until is not None:
            raise ValueError("until is the last day of a grace period: set state: grace")
        return self

    def state_on(self, day: date) -> RolloutState:
        """The state in force on ``day``: a grace period that ended is enforced."""
        if self.state == RolloutState.GRACE and self.until is not None and day > self.until:
            return RolloutState.ENFORCED
        return self.state


class Policy(_Folder):
    """One global rule: ``condition`` (CEL, true when the rule holds) over the facts of a
    product, or of each of its output ports or columns (``each``)."""

    id: str = Field(pattern=POLICY_ID)
    title: str = Field(min_length=1, max_length=200)
    rationale: str = Field(min_length=1, max_length=2000)
    scope: Scope = Field(default_factory=Scope)
    severity: Severity = Severity.WARN
    rollout: Rollout = Field(default_factory=Rollout)
    each: Literal["product", "port", "column"] = "product"
    condition: str = Field(min_length=1, max_length=4000)
    fix: str = Field(min_length=1, max_length=1000)
    """What the team does to comply, shown with every violation."""
    source: str = Field("", exclude=True)
    """Where the policy is written (``file:line``), for messages; set by the loader."""


class Protection(StrEnum):
    CLEAR = "clear"
    """Shown as stored."""
    PSEUDONYMIZE = "pseudonymize"
    """A keyed hash, the same for the same value across the mesh: joins still match."""
    MASK = "mask"
    """NULL for every reader who may not see the value."""
    ENCRYPT = "encrypt"
    """Encrypted at rest; pseudonymized for readers who may not see the value."""


class LevelProtection(_Folder):
    protection: Protection
    clear_for: Literal["pii-grants", "owners"] = "pii-grants"
    """Who reads the value as it is besides the owners: readers whose grant was approved
    for PII in clear, or nobody else."""


DEFAULT_PROTECTIONS: dict[str, LevelProtection] = {
    "public": LevelProtection(protection=Protection.CLEAR),
    "internal": LevelProtection(protection=Protection.CLEAR),
    "confidential": LevelProtection(protection=Protection.CLEAR),
    "restricted": LevelProtection(protection=Protection.MASK, clear_for="owners"),
    "pii": LevelProtection(protection=Protection.PSEUDONYMIZE),
    "pii-sensitive": LevelProtection(protection=Protection.ENCRYPT),
}


class ClearPii(_Folder):
    purposes: list[str] | None = None
    """Only requests stating one of these purposes (compared without case) may ask for
    PII in clear; None: any purpose, with a reason."""


IDENTIFIER_TYPES = ("string", "integer")
"""The logical types an identifier takes (ODCS ``logicalType``)."""


class Identifier(_Folder):
    """One way the mesh denotes a concept's subjects: ``customer_id``, ``email``."""

    type: Literal["string", "integer"] = "string"
    description: str = ""


class Concept(_Folder):
    """A kind of data subject the mesh shares (``customer``, ``session``)."""

    description: str = ""
    identifiers: dict[str, Identifier] = Field(default_factory=dict)
    """The identifier types that denote its subjects, by name; a column names one of them
    (``customProperties`` entry ``identifier``) when its values are those identifiers."""
    belongs_to: str | None = None
    """The concept whose subjects own this one's (a ``session`` belongs to a
    ``customer``): erasing a customer erases their sessions, found through the mappings;
    erasing a session erases that session alone."""
    domains: list[str] = Field(default_factory=list)
    """The domains whose columns naming this concept share one pseudonym scope: their
    pseudonyms of the same value match, so products join on them. Only these domains: a
    shared scope lets whoever publishes in it have the platform pseudonymize values of
    their choice under it."""


class PolicySettings(_Folder):
    disable: list[str] = Field(default_factory=list)
    """Default policies the federation turned off, by id."""


class GovernanceFile(_Folder):
    """``governance.yaml``."""

    protections: dict[str, Protection | LevelProtection] = Field(default_factory=dict)
    clear_pii: ClearPii = Field(default_factory=ClearPii)
    concepts: dict[str, Concept] = Field(default_factory=dict)
    policies: PolicySettings = Field(default_factory=PolicySettings)

    def shared_scope(self, concept: str | None, domain: str) -> str | None:
        """The pseudonym scope a column naming ``concept`` in ``domain`` shares, if any."""
        found = self.concepts.get(concept or "")
        return f"concept {concept}" if found is not None and domain in found.domains else None

    @field_validator("protections")
    @classmethod
    def _known_levels(
        cls, value: dict[str, Protection | LevelProtection]
    ) -> dict[str, Protection | LevelProtection]:
        for level in value:
            if level not in CLASSIFICATIONS:
                raise ValueError(
                    f"unknown classification {level!r}: use one of {', '.join(CLASSIFICATIONS)}"
                )
        return value

    def protection(self, level: str | None) -> LevelProtection:
        """How a column of ``level`` is protected (an unclassified column: as internal)."""
        level = (level or "internal").lower()
        found = self.protections.get(level)
        if isinstance(found, Protection):
            default = DEFAULT_PROTECTIONS.get(level)
            clear_for = default.clear_for if default else "pii-grants"
            return LevelProtection(protection=found, clear_for=clear_for)
        if found is not None:
            return found
        return DEFAULT_PROTECTIONS.get(level, DEFAULT_PROTECTIONS["internal"])


class PolicyFile(_Folder):
    """One file of ``policies/``."""

    policies: list[Policy] = Field(min_length=1)


# -- what evaluating found ------------------------------------------------------------------


class Compliance(BaseModel, frozen=True):
    """Every policy over every product in scope, on one day."""

    day: date
    policies: tuple[Policy, ...]
    findings: tuple[Finding, ...]
