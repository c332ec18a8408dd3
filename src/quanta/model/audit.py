"""The governance audit log, as data: its entries, the seal chaining each to the one before,
and what verifying the chain found. Nothing here does I/O: `quanta.stores.audit` keeps the
entries, `quanta.governance.audit` records and verifies them.

Every entry is sealed: its ``hash`` is the SHA-256 (hex) of the hash of the entry before it,
a newline, and the canonical JSON (`canonical_json`) of the object with the keys ``seq``,
``at`` (ISO 8601 in UTC, to the microsecond), ``kind``, ``actor``, ``subject`` and
``details``. The first entry follows `GENESIS`. Anyone can check the chain again from the
table alone with `seal`: a changed entry no longer matches its seal, and an inserted, deleted
or moved one breaks the links.

The details hold ids, names of columns and policies, counts and outcomes: never a value
read from a product. The log keeps what it is given (it cannot tell a value from a name), so
the callers are the ones who keep values out of it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

GENESIS = "0" * 64
"""The previous hash of the first entry: no entry comes before it."""


def canonical_json(value: Any) -> str:
    """One text for one JSON value: keys sorted, no spaces, only ASCII, no NaN.

    A value JSON cannot hold (a set, a datetime, NaN) is a `ValueError`, and so is a key
    that is not text: JSON would turn it into text, and the entry read back would differ.
    """
    try:
        _text_keys(value)
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"an audit entry's details must be plain JSON: {error}") from None


def _text_keys(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"the key {key!r} is not text")
            _text_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _text_keys(item)


def iso_utc(moment: datetime) -> str:
    """A moment as the seal reads it: ISO 8601 in UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def seal(
    prev_hash: str,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    subject: str,
    details: dict[str, Any],
) -> str:
    """The hash an entry with these contents has when it follows the entry ``prev_hash``."""
    content = canonical_json(
        {
            "seq": seq,
            "at": iso_utc(at),
            "kind": kind,
            "actor": actor,
            "subject": subject,
            "details": details,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


class AuditEntry(BaseModel, frozen=True):
    """One governance decision or action, as the log keeps it.

    ``kind`` says what (``"policy.evaluated"``, ``"classification.changed"``,
    ``"protection.applied"``, ``"access.approved"``, ``"subject.erased"``); ``actor`` who
    (an `Actor` as text: ``"user ana@example.com"``); ``subject`` what it concerns (a
    product id, a request id, a policy id).
    """

    seq: int
    at: datetime
    kind: str
    actor: str
    subject: str
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str

    def sealed_as(self, seq: int | None = None) -> str:
        """The hash this entry's contents have at ``seq`` (its own when None)."""
        return seal(
            self.prev_hash,
            self.seq if seq is None else seq,
            self.at,
            self.kind,
            self.actor,
            self.subject,
            self.details,
        )


class AuditAnchor(BaseModel, frozen=True):
    """The newest entry known to be committed, kept outside the database (``audit.head`` in
    the mesh home): deleting the newest entries leaves an intact but shorter chain, which
    only a copy of its head kept elsewhere can tell."""

    seq: int
    hash: str
    catalog: str = ""
    """The catalog the entry is in (its URL, without a password): an anchor of another
    catalog says nothing about this one."""


class ProblemKind(StrEnum):
    CHANGED = "changed"
    """An entry's contents no longer match its seal."""
    INSERTED = "inserted"
    """An entry that the chain does not pass through: added outside Quanta."""
    DELETED = "deleted"
    """Entries the chain says were written are not in the log any more."""
    REORDERED = "reordered"
    """An entry is in the log under another number than the one it was written as."""
    ANCHOR_MISMATCH = "anchor mismatch"
    """The head kept outside the database names an entry the log no longer has as it was."""


class AuditProblem(BaseModel, frozen=True):
    """One thing wrong with the log: which entries (``seq`` to ``last_seq``), and what."""

    seq: int
    last_seq: int
    kind: ProblemKind
    message: str
    """In words for the governance group: what is wrong, and what it means."""


class AuditVerification(BaseModel, frozen=True):
    """What checking the whole log found: nothing wrong, or each problem, oldest first."""

    checked: int
    """How many entries were read."""
    head: AuditEntry | None = None
    """The entry with the highest number; None for an empty log."""
    anchor: AuditAnchor | None = None
    """The head kept outside the database; None when this home has none for this catalog
    (it never recorded an entry there), so a deletion of the newest entries cannot show."""
    problems: list[AuditProblem] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.problems
