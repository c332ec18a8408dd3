"""Who may read what: access requests, the grants they become, and a product's own rules.

A request asks to read a product (or one of its ports) for a purpose, for a number of
days, perhaps only some columns, for a user or for a consuming product. The owning team
approves or denies it; an approved request is a grant until it expires or is revoked.
Nothing here does I/O: `quanta.access` decides, `quanta.stores` keeps.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from quanta.model.actor import ActorKind

PURPOSE_LENGTH = (8, 500)
"""The shortest and longest purpose a request may state, in characters."""
MAX_DAYS = 365
DEFAULT_DAYS = 90


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AccessRequest(BaseModel):
    """One request, and what became of it. An approved one is a grant."""

    id: int
    product: str
    port: str | None = None
    """None: every output port of the product."""
    consumer: str
    consumer_kind: ActorKind = ActorKind.USER
    requested_by: str
    purpose: str
    days: int
    columns: list[str] | None = None
    """None: every column the port has."""
    without_private: bool = False
    """Approved for reading no private column: never covers one classified later."""
    pii_reason: str | None = None
    """Why the request asks to read PII in clear; None: it reads PII protected, as the
    governance folder protects each classification."""
    clear_pii: bool = False
    """The owners approved reading PII in clear (only ever for a request that asked)."""
    state: RequestState = RequestState.PENDING
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    expires_at: datetime | None = None
    closed_by: str | None = None
    """Who revoked the grant (or ``"expiry"``)."""
    closed_at: datetime | None = None

    @property
    def target(self) -> str:
        return self.product if self.port is None else f"{self.product}.{self.port}"

    def live(self, now: datetime) -> bool:
        """A grant that may be read through now."""
        return (
            self.state == RequestState.APPROVED
            and self.expires_at is not None
            and now < self.expires_at
        )

    def covers(self, port: str) -> bool:
        return self.port is None or self.port == port


def purpose_problem(purpose: str) -> str | None:
    """What is wrong with a request's stated purpose, if anything."""
    text = purpose.strip()
    shortest, longest = PURPOSE_LENGTH
    if len(text) < shortest:
        return f"say what the data is for in at least {shortest} characters"
    if len(text) > longest:
        return f"a purpose has at most {longest} characters"
    if any(unicodedata.category(character)[0] == "C" for character in text):
        return "a purpose is one line of text, without control characters"
    return None


class _Rules(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class AutoApproval(_Rules):
    """A request that meets every condition set here is approved without waiting for the
    owners (and says which rule approved it)."""

    same_domain: bool = False
    """The consumer is a product of the same domain, or a member of a team owning one."""
    without_pii: bool = False
    """The request reads no column classified ``pii`` or ``restricted``."""
    purposes: list[str] | None = None
    """The purpose is one of these (compared without case)."""
    max_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    """The request asks for at most this many days."""

    @field_validator("purposes")
    @classmethod
    def _some(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("list at least one purpose, or leave purposes out")
        return value

    def conditions(self) -> list[str]:
        said = []
        if self.same_domain:
            said.append("same domain")
        if self.without_pii:
            said.append("no PII")
        if self.purposes is not None:
            said.append(f"purpose in {self.purposes}")
        if self.max_days is not None:
            said.append(f"at most {self.max_days} days")
        return said


class AccessRules(_Rules):
    """A product's own access rules: the ``access`` custom property of its descriptor."""

    public: bool | list[str] = False
    """Readable by everyone, anonymous included, without a grant: every port, or these."""
    auto_approve: list[AutoApproval] = Field(default_factory=list)

    def is_public(self, port: str) -> bool:
        return self.public is True or (isinstance(self.public, list) and port in self.public)


def access_rules(descriptor: dict[str, Any]) -> AccessRules:
    """A product's access rules, from its descriptor as the catalog keeps it (validated
    when it was published); none when it declares none."""
    for item in descriptor.get("customProperties") or []:
        if isinstance(item, dict) and item.get("property") == "access":
            return AccessRules.model_validate(item.get("value"))
    return AccessRules()
