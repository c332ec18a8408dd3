"""The governance audit log: every decision and action of governance, recorded and sealed.

What is recorded: a policy evaluated at publish and what it found, a change of how a
classification is protected, a protection applied to a read, an access decision, a purge or
an erasure. Each entry is sealed with the hash of the one before it (`quanta.model.audit`),
so `Audit.verify` finds an entry changed, inserted, deleted or moved in the database and
names it.

**Details never hold personal data.** The log keeps what its callers give it, and cannot
tell a value from a name: callers pass ids (of products, requests, policies, subjects as
their pseudonyms), names of columns and policies, counts and outcomes, never a value read
from a product nor a free text a user typed about one.

**The anchor.** Deleting the newest entries leaves an intact, shorter chain. So the head is
also kept outside the database: ``audit.head`` in the mesh home, holding the newest
committed entry's number and hash. `Audit` writes it, not the store (which does not know the
home): `Audit.record` once its entry has committed, and `Audit.anchor` for an entry a caller
appended inside its own transaction (`quanta.stores.audit.SqlAuditStore.write`), after that
commits. The file is replaced whole (``os.replace``), under a lock, and only ever moves
forward: never to an older entry, and never while the entry it names is gone from the log or
has another hash (that is evidence, kept for `verify`). A process that dies between its
commit and the file leaves the anchor behind the log, which is no alarm: the anchor may be
behind, but the entry it names must be in the log as it was. A log that ends before the
anchor's entry lost its newest entries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.events import Event, PortRead, Subscriber
from quanta.model.actor import Actor
from quanta.model.audit import (
    GENESIS,
    AuditAnchor,
    AuditEntry,
    AuditProblem,
    AuditVerification,
    ProblemKind,
)

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.mesh import Mesh

__all__ = ["ANCHOR_FILE", "Audit", "examine"]

ANCHOR_FILE = "audit.head"
"""The anchor's file, in the mesh home."""
_PAGE = 1000
log = logging.getLogger("quanta.governance.audit")


class _UnreadableAnchor(Exception):
    pass


class Audit:
    """The audit log of one mesh."""

    def __init__(self, context: MeshContext) -> None:
        self.context = context
        self.store = context.stores.audit
        self.anchor_path = Path(context.settings.home) / ANCHOR_FILE

    def record(
        self, kind: str, actor: Actor, subject: str, details: Mapping[str, Any] | None = None
    ) -> AuditEntry:
        """Append one entry, committed, and anchor it.

        ``kind`` names what happened (``"policy.evaluated"``, ``"access.approved"``),
        ``subject`` what it concerns (a product, request or policy id), ``details`` the
        ids, column and policy names, counts and outcomes: never a value of the data.
        """
        entry = self.store.append(kind, str(actor), subject, dict(details or {}))
        self.anchor(entry)
        return entry

    def entries(
        self,
        *,
        after: int | None = None,
        kind: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """The entries numbered above ``after``, of ``kind``, about ``subject``: the
        first ``limit`` of them, in order."""
        return self.store.entries(after=after, kind=kind, subject=subject, limit=limit)

    def head(self) -> AuditEntry | None:
        return self.store.head()

    def anchor(self, entry: AuditEntry) -> None:
        """Keep ``entry`` as the head outside the database: call it only once the entry
        has committed. An anchor that cannot be written is logged, not raised: the entry
        is kept all the same, and an anchor behind the log is no alarm."""
        try:
            with _locked(self.anchor_path.with_name(f"{ANCHOR_FILE}.lock")):
                try:
                    kept = self._kept_anchor()
                except _UnreadableAnchor:
                    return  # evidence for verify: never written over
                if kept is not None and (kept.seq >= entry.seq or not self._still_there(kept)):
                    return  # a newer one is anchored, or the anchored one is gone: evidence
                _replace(self.anchor_path, self._anchor_for(entry))
        except OSError as error:
            log.warning("the audit anchor %s could not be written: %s", self.anchor_path, error)

    def _kept_anchor(self) -> AuditAnchor | None:
        """The anchor of this catalog, as the home keeps it; None when it has none."""
        try:
            content = self.anchor_path.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise _UnreadableAnchor(str(error)) from None
        try:
            found = AuditAnchor.model_validate(json.loads(content))
        except ValueError as error:  # pydantic's ValidationError is one
            raise _UnreadableAnchor(str(error).splitlines()[0]) from None
        if found.catalog != _catalog(self.context.settings.catalog):
            return None  # the home pointed at another catalog when it was written
        return found

    def verify(self) -> AuditVerification:
        """Check the whole log, and its newest entries against the anchor."""
        try:
            anchor = self._kept_anchor()
        except _UnreadableAnchor as error:
            found = examine(self._every_entry(), None)
            problem = AuditProblem(
                seq=0,
                last_seq=0,
                kind=ProblemKind.ANCHOR_MISMATCH,
                message=(
                    f"the copy of the log's head kept outside the database ({self.anchor_path}) "
                    f"cannot be read ({error}): it was changed or damaged outside Quanta, and "
                    "a deletion of the newest entries would not show"
                ),
            )
            return found.model_copy(update={"problems": [problem, *found.problems]})
        return examine(self._every_entry(), anchor)

    def _every_entry(self) -> Iterator[AuditEntry]:
        after: int | None = None
        while page := self.store.entries(after=after, limit=_PAGE):
            yield from page
            after = page[-1].seq

    def _still_there(self, anchor: AuditAnchor) -> bool:
        found = self.store.entries(after=anchor.seq - 1, limit=1)
        return bool(found) and found[0].seq == anchor.seq and found[0].hash == anchor.hash

    def _anchor_for(self, entry: AuditEntry) -> AuditAnchor:
        return AuditAnchor(
            seq=entry.seq, hash=entry.hash, catalog=_catalog(self.context.settings.catalog)
        )


# -- verification: a pure function of the entries and the anchor ---------------------------


@dataclass(slots=True)
class _Row:
    """What verification keeps of every entry: not its contents, only its place and links."""

    seq: int
    prev_hash: str
    hash: str
    written: int | None
    """The number it was written as; None while not known, or for an entry added by hand."""
    flagged: bool = False


def examine(entries: Iterable[AuditEntry], anchor: AuditAnchor | None) -> AuditVerification:
    """Check a log read in order of its numbers, and its head against ``anchor``.

    Every entry is checked against its seal. Those that fail are looked at again: one that
    matches its seal under another number was moved (renumbered, swapped); one the chain
    goes on from was changed; one the chain passes over, or past the anchored head, was
    added outside Quanta. Then the entries, in the order they were written, must follow
    each other without a gap: a gap is entries deleted, and a link to an entry not in the
    log is an entry replaced. Last, the entry the anchor names must be in the log as it was.
    """
    rows: list[_Row] = []
    suspects: dict[int, AuditEntry] = {}
    head: AuditEntry | None = None
    for entry in entries:
        intact = _seals(entry, entry.seq)
        rows.append(_Row(entry.seq, entry.prev_hash, entry.hash, entry.seq if intact else None))
        if not intact:
            suspects[len(rows) - 1] = entry
        head = entry
    by_hash: dict[str, int] = {}
    followed: set[str] = set()
    for index, row in enumerate(rows):
        by_hash.setdefault(row.hash, index)
        followed.add(row.prev_hash)

    unmoved = _find_moved(rows, suspects, by_hash)
    problems = _unsealed(rows, unmoved, followed, anchor)
    problems += _claimed_twice(rows, followed)
    problems += _moved(rows)
    problems += _gaps(rows, by_hash)
    problems += _against_anchor(rows, anchor)
    problems.sort(key=lambda problem: (problem.seq, problem.last_seq))
    return AuditVerification(checked=len(rows), head=head, anchor=anchor, problems=problems)


def _seals(entry: AuditEntry, seq: int) -> bool:
    try:
        return entry.sealed_as(seq) == entry.hash
    except ValueError:  # details no longer JSON can hold
        return False


def _find_moved(
    rows: list[_Row], suspects: dict[int, AuditEntry], by_hash: dict[str, int]
) -> set[int]:
    """Give each entry that fails its seal the number it was written as, when it matches
    its seal under another: the one after the entry it follows. The rest: their own number,
    returned (they were changed or added)."""
    pending = set(suspects)
    unmoved: set[int] = set()
    progress = True
    while pending and progress:
        progress = False
        for index in sorted(pending):
            row = rows[index]
            before: int | None
            if row.prev_hash == GENESIS:
                before = 0
            elif (found := by_hash.get(row.prev_hash)) is not None and found != index:
                if rows[found].written is None and found in pending:
                    continue  # known once the entry it follows is
                before = rows[found].written
            else:
                before = None  # it follows an entry that is not in the log
            pending.discard(index)
            progress = True
            if before is not None and before + 1 != row.seq and _seals(suspects[index], before + 1):
                row.written = before + 1
            else:
                row.written = row.seq
                unmoved.add(index)
    for index in pending:  # they follow each other in a circle: none was written so
        rows[index].written = rows[index].seq
        unmoved.add(index)
    return unmoved


def _unsealed(
    rows: list[_Row], unmoved: set[int], followed: set[str], anchor: AuditAnchor | None
) -> list[AuditProblem]:
    problems = []
    for index in sorted(unmoved):
        row = rows[index]
        row.flagged = True
        after = rows[index + 1] if index + 1 < len(rows) else None
        if row.hash in followed:
            message = (
                f"entry {row.seq} was changed after it was written: what it says no longer "
                "matches its seal"
            )
            kind = ProblemKind.CHANGED
        elif after is not None and after.prev_hash == row.prev_hash:
            row.written = None
            message = (
                f"entry {row.seq} was added outside Quanta: the chain passes over it (entry "
                f"{after.seq} follows the entry before it)"
            )
            kind = ProblemKind.INSERTED
        elif after is None and anchor is not None and anchor.seq < row.seq:
            row.written = None
            message = (
                f"entry {row.seq} was added outside Quanta: it does not match its seal, and "
                f"it comes after entry {anchor.seq}, the newest one Quanta anchored"
            )
            kind = ProblemKind.INSERTED
        elif after is None:
            message = (
                f"entry {row.seq}, the newest, does not match its seal: it was changed, or "
                "added outside Quanta"
            )
            kind = ProblemKind.CHANGED
        else:
            message = (
                f"entry {row.seq} was replaced: neither it nor its seal is what was written "
                f"as entry {row.seq} (entry {after.seq} follows another entry)"
            )
            kind = ProblemKind.CHANGED
        problems.append(AuditProblem(seq=row.seq, last_seq=row.seq, kind=kind, message=message))
    return problems


def _claimed_twice(rows: list[_Row], followed: set[str]) -> list[AuditProblem]:
    """Two entries written as one number: the chain goes on from the genuine one."""
    claims: dict[int, list[_Row]] = {}
    for row in rows:
        if row.written is not None:
            claims.setdefault(row.written, []).append(row)
    problems = []
    for written, claimants in claims.items():
        if len(claimants) < 2:
            continue
        genuine = next((row for row in claimants if row.hash in followed), claimants[0])
        for row in claimants:
            if row is genuine:
                continue
            row.written = None
            row.flagged = True
            problems.append(
                AuditProblem(
                    seq=row.seq,
                    last_seq=row.seq,
                    kind=ProblemKind.INSERTED,
                    message=(
                        f"entry {row.seq} was added outside Quanta: it claims to be entry "
                        f"{written}, which entry {genuine.seq} is (the chain goes on from it)"
                    ),
                )
            )
    return problems


def _moved(rows: list[_Row]) -> list[AuditProblem]:
    """Entries under another number than they were written as: runs moved alike together,
    and two entries that changed places as one swap."""
    runs: list[list[_Row]] = []
    for row in rows:
        if row.written is None or row.written == row.seq:
            continue
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and row.seq == last.seq + 1
            and row.written - row.seq == (last.written or 0) - last.seq
        ):
            runs[-1].append(row)
        else:
            runs.append([row])
    problems = []
    swapped: set[int] = set()
    singles = {run[0].seq: run[0] for run in runs if len(run) == 1}
    for run in runs:
        first, last = run[0], run[-1]
        if first.seq in swapped:
            continue
        other = singles.get(first.written or 0) if len(run) == 1 else None
        if other is not None and other.written == first.seq:
            swapped.add(other.seq)
            low, high = sorted((first.seq, other.seq))
            message = (
                f"entries {low} and {high} were swapped: each holds what was written as the other"
            )
            problems.append(
                AuditProblem(seq=low, last_seq=high, kind=ProblemKind.REORDERED, message=message)
            )
            continue
        message = (
            f"{_entries(first.seq, last.seq)} {'holds' if first is last else 'hold'} what was "
            f"written as {_entries(first.written or 0, last.written or 0)}: the log "
            "was renumbered"
        )
        problems.append(
            AuditProblem(
                seq=first.seq, last_seq=last.seq, kind=ProblemKind.REORDERED, message=message
            )
        )
    return problems


def _gaps(rows: list[_Row], by_hash: dict[str, int]) -> list[AuditProblem]:
    """The entries in the order they were written: each must follow the one before."""
    ordered = sorted(
        (row for row in rows if row.written is not None), key=lambda row: (row.written, row.seq)
    )
    problems = []
    before: _Row | None = None
    for row in ordered:
        written = row.written or 0
        expected = 1 if before is None else (before.written or 0) + 1
        previous_hash = GENESIS if before is None else before.hash
        if written > expected:
            problems.append(
                AuditProblem(
                    seq=expected,
                    last_seq=written - 1,
                    kind=ProblemKind.DELETED,
                    message=(
                        f"{_entries(expected, written - 1)} "
                        f"{'is' if expected == written - 1 else 'are'} missing: deleted from "
                        f"the log (entry {row.seq} follows an entry {written - 1} that is no "
                        "longer there)"
                    ),
                )
            )
        elif row.prev_hash != previous_hash and not row.flagged:
            if before is not None and before.flagged:
                pass  # told already: the entry before was changed or replaced
            elif before is None:
                row.flagged = True
                problems.append(
                    AuditProblem(
                        seq=row.seq,
                        last_seq=row.seq,
                        kind=ProblemKind.CHANGED,
                        message=f"entry {row.seq} was replaced: it does not start the chain",
                    )
                )
            else:
                before.flagged = True
                elsewhere = by_hash.get(row.prev_hash)
                message = f"entry {before.seq} was replaced: entry {row.seq} follows " + (
                    f"entry {rows[elsewhere].seq} instead"
                    if elsewhere is not None
                    else f"an entry {before.written} that is no longer in the log"
                )
                problems.append(
                    AuditProblem(
                        seq=before.seq,
                        last_seq=before.seq,
                        kind=ProblemKind.CHANGED,
                        message=message,
                    )
                )
        before = row
    return problems


def _against_anchor(rows: list[_Row], anchor: AuditAnchor | None) -> list[AuditProblem]:
    if anchor is None:
        return []
    written = [row for row in rows if row.written is not None]
    newest = max((row.written or 0 for row in written), default=0)
    if newest < anchor.seq:
        first = newest + 1
        ends = f"the log now ends at entry {newest}" if newest else "the log is now empty"
        return [
            AuditProblem(
                seq=first,
                last_seq=anchor.seq,
                kind=ProblemKind.DELETED,
                message=(
                    f"{_entries(first, anchor.seq)}, the newest, "
                    f"{'is' if first == anchor.seq else 'are'} missing: deleted from the log "
                    f"(the copy of its head kept outside the database says entry {anchor.seq} "
                    f"was written; {ends})"
                ),
            )
        ]
    at_anchor = [row for row in written if row.written == anchor.seq]
    if not at_anchor:
        return []  # inside a gap, told as entries deleted
    if any(row.hash == anchor.hash for row in at_anchor):
        return []
    seq = at_anchor[0].seq
    return [
        AuditProblem(
            seq=seq,
            last_seq=seq,
            kind=ProblemKind.ANCHOR_MISMATCH,
            message=(
                f"entry {seq} is not the entry Quanta wrote as entry {anchor.seq}: the copy "
                "of the log's head kept outside the database names another. The newest "
                "entries were deleted and others written in their place, or this one was "
                "replaced"
            ),
        )
    ]


def _entries(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first} to {last}"


# -- the anchor file -------------------------------------------------------------------------


def _catalog(url: str) -> str:
    """A catalog's URL as the anchor names it: no password, a SQLite file by its full path."""
    from quanta.stores.database import sqlalchemy_url

    parsed = sqlalchemy_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(str(parsed.database)).resolve()))
    return parsed.render_as_string(hide_password=True)


def _replace(path: Path, anchor: AuditAnchor) -> None:
    """Write ``anchor`` to ``path`` whole or not at all: a reader sees the old or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f"{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(anchor.model_dump_json() + "\n")
            file.flush()
            os.fsync(file.fileno())  # no empty anchor after a power cut: that would alarm
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``path`` locked against every other process writing the anchor."""
    if sys.platform == "win32":  # no flock: an anchor may then fall behind, never go wrong
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def audit_protection(mesh: Mesh) -> Subscriber:
    """Keep in the audit log every read the read path protected: who read which port, at
    which version, and which of its columns it saw protected (names, never values)."""
    audit = mesh.context.governance.audit

    def keep(event: Event) -> None:
        if isinstance(event, PortRead) and event.protected:
            audit.record(
                "protection.applied",
                event.actor,
                f"{event.subject}.{event.port}",
                {"version": event.version, "columns": list(event.protected)},
            )

    return keep
