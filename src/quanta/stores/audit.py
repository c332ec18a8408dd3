"""The governance audit log on SQLAlchemy: one row an entry, numbered and sealed here.

An entry's number is the last one's plus one, and its seal covers the hash of that last
entry (`quanta.model.audit`), so two appends must never read the same last entry: each
append first takes the log's write lock, held until its transaction ends, and only then
reads the head. On PostgreSQL that lock is a transaction-scoped advisory lock; on SQLite it
is the database's own write lock, which a write that changes nothing takes at once (SQLite
has one writer at a time; the busy timeout `Database` sets makes the others wait). The
primary key on ``seq`` stays as the last guard: an insert that still collides (a writer that
skipped the lock) fails, and `SqlAuditStore.append` tries again on a new head.

The store offers no update and no delete: the log is only ever appended to. The head kept
outside the database (``audit.head``) is not the store's: it does not know the mesh home,
so `quanta.governance.audit.Audit` writes it once the entry has committed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, String, insert, select, text, type_coerce
from sqlalchemy.exc import IntegrityError

from quanta.model.audit import GENESIS, AuditEntry, canonical_json, seal
from quanta.stores import schema
from quanta.stores.database import Database

_TABLE = schema.audit_log
# Any constant will do, as long as every process appending to one database uses it.
_AUDIT_LOCK = 7_130_406_108
# A writer that skipped the lock is the only way to collide; a few tries outlast one.
_ATTEMPTS = 5

_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
_ACTOR_LENGTH = 300  # an identity of 255 characters, and its kind before it
_SUBJECT_LENGTH = 255
_DETAILS_LENGTH = 65_536
_UNREADABLE_AT = datetime(1, 1, 1, tzinfo=UTC)


class SqlAuditStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, kind: str, actor: str, subject: str, details: dict[str, Any]) -> AuditEntry:
        """Append one entry in a transaction of its own; the entry as kept, committed."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.database.engine.begin() as connection:
                    return self.write(connection, kind, actor, subject, details)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def write(
        self,
        connection: Connection,
        kind: str,
        actor: str,
        subject: str,
        details: dict[str, Any],
    ) -> AuditEntry:
        """Append inside the caller's transaction: the entry commits with what it tells of.

        The log stays locked for other appends until that transaction ends: keep it short.
        The entry is not committed when this returns; whoever commits it writes the anchor
        (`quanta.governance.audit.Audit.anchor`). The transaction must read what others
        committed meanwhile (PostgreSQL's default, read committed): under a snapshot taken
        before the lock, the head read is stale and the insert fails on the primary key.
        """
        content = _checked(kind, actor, subject, details)
        normalized = json.loads(content)  # as it will read back: tuples become lists
        self._lock(connection)
        head = connection.execute(
            select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
        ).first()
        seq = 1 if head is None else int(head.seq) + 1
        prev_hash = GENESIS if head is None else str(head.hash)
        at = datetime.now(UTC)
        entry = AuditEntry(
            seq=seq,
            at=at,
            kind=kind,
            actor=actor,
            subject=subject,
            details=normalized,
            prev_hash=prev_hash,
            hash=seal(prev_hash, seq, at, kind, actor, subject, normalized),
        )
        connection.execute(
            insert(_TABLE).values(
                seq=seq,
                at=at,
                kind=kind,
                actor=actor,
                subject=subject,
                details=content,
                prev_hash=prev_hash,
                hash=entry.hash,
            )
        )
        return entry

    def entries(
        self,
        *,
        after: int | None = None,
        kind: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """The entries numbered above ``after``, of ``kind``, about ``subject`` (any when
        None): the first ``limit`` of them (all when None), in order.

        They read back as the table holds them, tampered or not: details that are no
        longer JSON, or a moment SQLite cannot read, come back as ``{"unreadable": ...}``
        and the year 1, which match no seal.
        """
        query = self._select().order_by(_TABLE.c.seq)
        if after is not None:
            query = query.where(_TABLE.c.seq > after)
        if kind is not None:
            query = query.where(_TABLE.c.kind == kind)
        if subject is not None:
            query = query.where(_TABLE.c.subject == subject)
        if limit is not None:
            query = query.limit(limit)
        with self.database.engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def head(self) -> AuditEntry | None:
        """The entry with the highest number; None while the log is empty."""
        query = self._select().order_by(_TABLE.c.seq.desc()).limit(1)
        with self.database.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _entry(row)

    def _lock(self, connection: Connection) -> None:
        if self.database.dialect == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK})"))
        else:
            # Changes no row, but a write all the same: SQLite gives this transaction the
            # database's write lock now (waiting for another writer), not at the insert.
            connection.execute(text("UPDATE audit_log SET seq = seq WHERE 0 = 1"))

    def _select(self) -> Select[Any]:
        at: Any = _TABLE.c.at
        if self.database.dialect == "sqlite":
            # As text: SQLite keeps whatever is written there, and a moment SQLAlchemy
            # cannot parse would stop the whole read instead of showing as one changed entry.
            at = type_coerce(_TABLE.c.at, String).label("at")
        return select(
            _TABLE.c.seq,
            at,
            _TABLE.c.kind,
            _TABLE.c.actor,
            _TABLE.c.subject,
            _TABLE.c.details,
            _TABLE.c.prev_hash,
            _TABLE.c.hash,
        )


def _checked(kind: str, actor: str, subject: str, details: dict[str, Any]) -> str:
    """The details' canonical JSON, once the entry is one every dialect keeps alike."""
    if not _KIND.fullmatch(kind):
        raise ValueError(
            f"an audit entry's kind is 1 to 63 lowercase letters, digits and . _ -: {kind!r}"
        )
    for name, value, longest in (
        ("actor", actor, _ACTOR_LENGTH),
        ("subject", subject, _SUBJECT_LENGTH),
    ):
        if not value or len(value) > longest:
            raise ValueError(f"an audit entry's {name} has 1 to {longest} characters")
        if "\x00" in value or not value.isprintable():
            raise ValueError(f"an audit entry's {name} is one line of printable characters")
    if not isinstance(details, dict):
        raise ValueError("an audit entry's details are a JSON object")
    content = canonical_json(details)
    if len(content) > _DETAILS_LENGTH:
        raise ValueError(
            f"an audit entry's details take at most {_DETAILS_LENGTH} characters as JSON: "
            "they name what was decided (ids, columns, policies, counts), they hold no data"
        )
    return content


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=int(row.seq),
        at=_moment(row.at),
        kind=str(row.kind),
        actor=str(row.actor),
        subject=str(row.subject),
        details=_details(row.details),
        prev_hash=str(row.prev_hash),
        hash=str(row.hash),
    )


def _moment(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return _UNREADABLE_AT
    if not isinstance(value, datetime):
        return _UNREADABLE_AT
    # SQLite keeps the UTC moment without its zone; PostgreSQL answers in the session's.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _details(content: Any) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except (TypeError, ValueError):
        return {"unreadable": str(content)}
    return value if isinstance(value, dict) else {"unreadable": str(content)}
