"""Which work on a mesh's tables may run at once: publishes beside each other, but nothing
beside a rewrite of old versions (retention, erasure).

A publish writes data files before its commit; a rewrite's sweep deletes every file no
snapshot references. Run together, the sweep could delete a publish's files before that
publish commits. So publishes and builds hold the tables' lock shared, and a rewrite holds
it exclusive: it waits for the publishes running, and the ones after it wait for it.

The lock is a file in the mesh home, locked with ``flock``: the system lets go of it when
its process ends, killed or not. It covers the processes of one machine; meshes whose
processes run on several machines share their home on one file system, or run their
rewrites when nothing publishes (docs/privacy.md).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


class _Held(threading.local):
    def __init__(self) -> None:
        self.paths: set[str] = set()


_held = _Held()
"""The locks this thread holds exclusive, by path: a rewrite that publishes (an erasure's
rebuilds) must not wait for itself. Other threads wait like other processes: ``flock``
locks belong to an open file, and each taking opens the file anew."""


def _path(home: Path) -> Path:
    folder = home / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "tables.lock"


@contextmanager
def _locked(home: Path, mode: int) -> Iterator[None]:
    path = _path(home)
    key = str(path.resolve())
    if key in _held.paths:
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, mode)
        if mode == fcntl.LOCK_EX:
            _held.paths.add(key)
        try:
            yield
        finally:
            if mode == fcntl.LOCK_EX:
                _held.paths.discard(key)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def maintenance(home: Path) -> AbstractContextManager[None]:
    """Held exclusive while old versions are rewritten."""
    return _locked(home, fcntl.LOCK_EX)


def publishing(home: Path) -> AbstractContextManager[None]:
    """Held shared while a publish or a build writes to the tables."""
    return _locked(home, fcntl.LOCK_SH)
