"""A spool: records a store could not take yet, kept in files under the mesh home until
it can (usage metering's reads, the event history's events).

One file holds one write that could not be made. No lock is needed between processes: a
file is written whole under a hidden name and renamed into place, and a process folding it
first claims it by renaming it (only one rename wins), writes its records, then deletes it.
Records that still cannot be written go back; a claim left by a process that died is taken
back after `STALE_SECONDS`. A file the store refuses for good (`ValueError`: a name too long
for its column, a line not written by a spool) is set aside as ``.rejected``, so it does
not hold up every fold after it.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

log = logging.getLogger("quanta.events.spool")

STALE_SECONDS = 600.0
"""A claim on spooled records older than this was left by a process that died folding it."""

R = TypeVar("R", bound=BaseModel)


class Spool(Generic[R]):
    """Records of type ``record`` not yet in their store, in ``folder``."""

    def __init__(self, folder: Path, record: type[R]) -> None:
        self.folder = folder
        self.record = record

    def keep(self, records: Sequence[R]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex}"
        hidden = self.folder / f".{name}.tmp"
        hidden.write_text("".join(f"{one.model_dump_json()}\n" for one in records), "utf-8")
        hidden.replace(self.folder / f"{name}.jsonl")

    def pending(self) -> bool:
        if not self.folder.is_dir():  # the usual case, and one stat
            return False
        return any(self.folder.glob("*.jsonl"))

    def waiting(self) -> int:
        """How many records the spool holds, not yet in the store."""
        if not self.folder.is_dir():
            return 0
        count = 0
        for path in [*self.folder.glob("*.jsonl"), *self.folder.glob("*.claimed")]:
            try:
                count += sum(1 for line in path.read_text("utf-8").splitlines() if line)
            except FileNotFoundError:  # folded meanwhile
                continue
        return count

    def fold(self, write: Callable[[list[R]], None], *, files: int | None = None) -> int:
        """Write up to ``files`` spooled files, oldest first, with one call of ``write``
        (all or nothing); the number of records written. What cannot be written now
        stays for the next time."""
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
            except PermissionError:  # another user's, on a shared home: theirs to fold
                continue
            claimed.append((path, claim))
        files_read: list[tuple[Path, Path, list[R]]] = []
        for path, claim in claimed:
            try:
                lines = claim.read_text("utf-8").splitlines()
                records = [self.record.model_validate_json(line) for line in lines if line]
            except ValueError:  # not written by a spool: set aside, not retried forever
                _set_aside(path, claim)
                continue
            files_read.append((path, claim, records))
        try:
            write([one for _, _, records in files_read for one in records])
        except ValueError:  # a file the store refuses: write the others one by one
            return sum(_fold_one(write, *file) for file in files_read)
        except Exception as error:
            for path, claim, _ in files_read:
                claim.rename(path)
            log.info("spooled records stay spooled: %s", type(error).__name__)
            return 0
        for _, claim, _ in files_read:
            claim.unlink()
        return sum(len(records) for _, _, records in files_read)

    def _take_back_stale(self) -> None:
        now = time.time_ns()
        for claim in self.folder.glob("*.claimed"):
            stem, _, claimed_at = claim.stem.rpartition(".")
            if claimed_at.isdigit() and (now - int(claimed_at)) / 1e9 > STALE_SECONDS:
                try:
                    claim.rename(claim.with_name(f"{stem}.jsonl"))
                except FileNotFoundError:
                    continue


def _fold_one(write: Callable[[list[R]], None], path: Path, claim: Path, records: list[R]) -> int:
    try:
        write(records)
    except ValueError:  # never writable: set aside, or it would hold up every fold
        _set_aside(path, claim)
        return 0
    except Exception:
        claim.rename(path)
        return 0
    claim.unlink()
    return len(records)


def _set_aside(path: Path, claim: Path) -> None:
    claim.rename(path.with_suffix(".rejected"))
    log.warning("the spooled file %s cannot be written: set aside", path.name)
