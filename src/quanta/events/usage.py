"""The built-in subscriber that meters usage: every port served (`PortServed`) is kept in
the usage store, with the grant the read went through and the purpose it was for.

Metering never slows or fails a read. The event bus already contains a subscriber's
errors; beyond that, the write waits at most `WAIT_SECONDS` for the catalog (a publish in
another process holds SQLite's write lock while it commits). A read that could not be
written is kept in the spool under the mesh home, and the next write, or ``quanta usage``,
folds it into the store: nothing is lost, and no reader waits on a publish.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.events import Event, PortServed, Subscriber
from quanta.model.access import AccessRequest, RequestState
from quanta.model.actor import ActorKind
from quanta.model.usage import UsageRecord

if TYPE_CHECKING:
    from quanta.mesh import Mesh
    from quanta.stores import AccessStore, UsageStore

log = logging.getLogger("quanta.events.usage")

WAIT_SECONDS = 0.2
"""How long a read's metering may wait for the catalog before it spools the read instead."""
SPOOL_FOLDER = "usage-spool"
"""The spool's folder in the mesh home."""
FOLD_FILES = 200
"""At most this many spooled writes are folded in after one read: one insert, still quick."""
STALE_SECONDS = 600.0
"""A claim on spooled reads older than this was left by a process that died while folding."""


def meter_usage(mesh: Mesh) -> Subscriber:
    usage, access = mesh.stores.usage, mesh.stores.access
    spool = Spool(mesh.home / SPOOL_FOLDER)

    def meter(event: Event) -> None:
        if not isinstance(event, PortServed):
            return
        read = usage_record(access, event)
        try:
            usage.record([read], wait=WAIT_SECONDS)
        except ValueError:  # a name too long for its column: it never will fit
            log.warning("a read of %s could not be metered: a name is too long", event.subject)
            return
        except Exception as error:  # busy, or unreachable: kept, and written later
            spool.keep([read])
            log.info("a read of %s was spooled: %s", event.subject, type(error).__name__)
            return
        if spool.pending():
            spool.fold(usage, wait=WAIT_SECONDS, files=FOLD_FILES)

    return meter


def usage_record(access: AccessStore, event: PortServed) -> UsageRecord:
    """What the usage store keeps of ``event``: with the grant it was read through."""
    try:
        grant = grant_of(access, event)
    except Exception as error:  # the catalog unreachable: the read is still metered
        log.info("the grant of a read of %s is not known: %s", event.subject, type(error).__name__)
        grant = None
    return UsageRecord(
        at=event.at,
        product=event.subject,
        port=event.port,
        version=event.version,
        consumer=event.actor.name,
        consumer_kind=event.actor.kind,
        purpose=grant.purpose if grant is not None else event.actor.purpose,
        grant=grant.id if grant is not None else None,
        read=event.read,
        rows=event.rows,
        bytes=event.bytes,
        seconds=event.seconds,
    )


def grant_of(access: AccessStore, event: PortServed) -> AccessRequest | None:
    """The first grant live when ``event`` happened that covers its port, for its reader
    (a product's grants for a product, a person's for a person); None for owners and
    public ports, which read without one."""
    product = event.actor.kind == ActorKind.PRODUCT
    for grant in access.requests(
        product=event.subject, consumer=event.actor.name, states=[RequestState.APPROVED]
    ):
        if (
            grant.live(event.at)
            and grant.covers(event.port)
            and (grant.consumer_kind == ActorKind.PRODUCT) == product
        ):
            return grant
    return None


class Spool:
    """Reads not yet in the store: one file per write that could not be made.

    No lock is needed between processes: a file is written whole under a hidden name and
    renamed into place, and a process folding it first claims it by renaming it (only one
    rename wins), writes its reads, then deletes it. Reads that still cannot be written go
    back; a claim left by a process that died is taken back after `STALE_SECONDS`.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, reads: list[UsageRecord]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex}"
        hidden = self.folder / f".{name}.tmp"
        hidden.write_text("".join(f"{read.model_dump_json()}\n" for read in reads), "utf-8")
        hidden.replace(self.folder / f"{name}.jsonl")

    def pending(self) -> bool:
        if not self.folder.is_dir():  # the usual case, and one stat
            return False
        return any(self.folder.glob("*.jsonl"))

    def waiting(self) -> int:
        """How many reads the spool holds, not yet in the store."""
        if not self.folder.is_dir():
            return 0
        count = 0
        for path in [*self.folder.glob("*.jsonl"), *self.folder.glob("*.claimed")]:
            try:
                count += sum(1 for line in path.read_text("utf-8").splitlines() if line)
            except FileNotFoundError:  # folded meanwhile
                continue
        return count

    def fold(self, store: UsageStore, *, wait: float | None, files: int | None = None) -> int:
        """Write up to ``files`` spooled files into ``store`` in one insert; the number of
        reads written. What cannot be written now stays for the next time."""
        if not self.folder.is_dir():
            return 0
        self._take_back_stale()
        claimed: list[tuple[Path, Path]] = []
        for path in sorted(self.folder.glob("*.jsonl"))[:files]:
            claim = path.with_name(f"{path.stem}.{time.time_ns():020d}.claimed")
            try:
                path.rename(claim)
            except FileNotFoundError:  # another process claimed it first
                continue
            claimed.append((path, claim))
        files_read: list[tuple[Path, Path, list[UsageRecord]]] = []
        for path, claim in claimed:
            try:
                lines = claim.read_text("utf-8").splitlines()
                reads = [UsageRecord.model_validate_json(line) for line in lines if line]
            except ValueError:  # not written by this spool: set aside, not retried forever
                _set_aside(path, claim)
                continue
            files_read.append((path, claim, reads))
        try:
            store.record([read for _, _, reads in files_read for read in reads], wait=wait)
        except ValueError:  # a file the store refuses: write the others one by one
            return sum(self._fold_one(store, wait, *file) for file in files_read)
        except Exception as error:
            for path, claim, _ in files_read:
                claim.rename(path)
            log.info("spooled usage stays spooled: %s", type(error).__name__)
            return 0
        for _, claim, _ in files_read:
            claim.unlink()
        return sum(len(reads) for _, _, reads in files_read)

    @staticmethod
    def _fold_one(
        store: UsageStore, wait: float | None, path: Path, claim: Path, reads: list[UsageRecord]
    ) -> int:
        try:
            store.record(reads, wait=wait)
        except ValueError:  # never writable: set aside, or it would hold up every fold
            _set_aside(path, claim)
            return 0
        except Exception:
            claim.rename(path)
            return 0
        claim.unlink()
        return len(reads)

    def _take_back_stale(self) -> None:
        now = time.time_ns()
        for claim in self.folder.glob("*.claimed"):
            stem, _, claimed_at = claim.stem.rpartition(".")
            if claimed_at.isdigit() and (now - int(claimed_at)) / 1e9 > STALE_SECONDS:
                try:
                    claim.rename(claim.with_name(f"{stem}.jsonl"))
                except FileNotFoundError:
                    continue


def _set_aside(path: Path, claim: Path) -> None:
    claim.rename(path.with_suffix(".rejected"))
    log.warning("the spooled usage file %s cannot be written: set aside", path.name)
