"""Which product folders a path holds, and the order they must be built in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from quanta.validation.folder import DESCRIPTOR

SKIPPED_FOLDERS = {".git", ".quanta", ".venv", "node_modules", "__pycache__", "data"}


def discover(path: Path) -> list[Path]:
    """Product folders at or below ``path`` (a folder holding ``dataproduct.yaml``).

    Symbolic links to folders below ``path`` are not followed: a link to ``/`` would walk
    the whole file system, and a loop would list the same product again and again.
    """
    found: list[Path] = []
    pending = [path]  # a stack, not recursion: a folder tree may be deeper than Python's
    while pending:
        folder = pending.pop()
        if (folder / DESCRIPTOR).is_file():
            found.append(folder)
            continue
        if not folder.is_dir():
            continue
        children = sorted(
            child
            for child in folder.iterdir()
            if child.is_dir()
            and not child.is_symlink()
            and child.name not in SKIPPED_FOLDERS
            and not child.name.startswith(".")
        )
        pending.extend(reversed(children))
    return found


def build_order(upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Products in an order where each comes after all it reads.

    Raises `graphlib.CycleError` whose second argument is the cycle, first product repeated.
    """
    return list(
        TopologicalSorter({key: set(value) for key, value in upstream.items()}).static_order()
    )


def cycle_in(upstream: Mapping[str, Iterable[str]]) -> list[str] | None:
    try:
        build_order(upstream)
    except CycleError as error:
        cycle: list[str] = list(error.args[1])
        return list(reversed(cycle))
    return None
