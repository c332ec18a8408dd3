"""The files a product folder declares, found and opened inside that folder and nowhere else.

Paths in a descriptor are relative to the product folder (`quanta.model.product` refuses
``..`` and absolute paths by their spelling). Symbolic links are resolved here: a link that
leads out of the folder is refused like ``..`` is, and a glob matches only files that are
inside, so that what the engine may read is exactly the declared files.

A path checked now may be a link to elsewhere a moment later (someone else writing into
the folder while it builds). So files are read through `open_inside`: it opens the checked
path one part at a time beneath the folder, following no link, and the reader gets the open
file itself (`opened_path`), which nothing can swap.
"""

from __future__ import annotations

import errno
import os
import resource
import stat
from pathlib import Path

GLOB_CHARACTERS = frozenset("*?[")


class OutsideFolder(Exception):
    """A declared file is not a regular file inside its product folder."""

    def __init__(self, problem: str, todo: str) -> None:
        super().__init__(f"{problem}: {todo}")
        self.problem = problem
        self.todo = todo


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` with links resolved; it must be a regular file inside ``folder``."""
    root = folder.resolve()
    try:
        path = (root / relative).resolve()
    except (RuntimeError, OSError):  # a loop of links
        raise OutsideFolder(
            f"{relative!r} is a loop of symbolic links", "point the link at a file"
        ) from None
    if not path.is_relative_to(root):
        raise OutsideFolder(
            f"{relative!r} leads outside the product folder (through a symbolic link)",
            "keep the file itself inside the folder",
        )
    if not path.exists():
        raise OutsideFolder(f"{relative!r} does not exist", "create it or correct the path")
    if not path.is_file():
        raise OutsideFolder(f"{relative!r} is not a file", "name a file, or a glob of files")
    return path


def is_glob(pattern: str) -> bool:
    return any(char in GLOB_CHARACTERS for char in pattern)


def source_files(folder: Path, pattern: str) -> list[Path]:
    """The files a source path names: one file, or every file a glob matches, all inside."""
    if not is_glob(pattern):
        files = [inside(folder, pattern)]
    else:
        root = folder.resolve()
        try:
            matches = sorted(root.glob(pattern))
        except (ValueError, NotImplementedError) as error:
            raise OutsideFolder(
                f"{pattern!r} is not a glob Quanta can read ({error})", "correct it"
            ) from None
        files = [inside(root, str(match.relative_to(root))) for match in matches if match.is_file()]
        if not files:
            raise OutsideFolder(
                f"{pattern!r} matches no file in the product folder",
                "add the files or correct the pattern",
            )
    for path in files:
        # The engine would read a file name holding * ? or [ as a glob of its own.
        if is_glob(path.name):
            raise OutsideFolder(f"{path.name!r} has *, ? or [ in its name", "rename the file")
    return list(dict.fromkeys(files))


def open_inside(folder: Path, path: Path) -> int:
    """A descriptor open for reading on ``path``, a file `inside` the folder already.

    Each part of the path below the folder is opened without following links, so the file
    opened is the one checked, or `OutsideFolder` says it changed.
    """
    root = folder.resolve()
    parts = path.relative_to(root).parts
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                below = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory
                )
            except OSError as error:
                raise _failed(error, path, root) from None
            os.close(directory)
            directory = below
        try:
            # Not blocking: a FIFO swapped in would wait for a writer forever.
            opened = os.open(
                parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory
            )
        except OSError as error:
            raise _failed(error, path, root) from None
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(opened).st_mode):
        os.close(opened)
        raise _changed(path, root)
    return opened


def opened_path(descriptor: int) -> str | None:
    """A path by which any reader opens exactly the file of ``descriptor`` (None: none)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        if Path(folder).is_dir():
            return f"{folder}/{descriptor}"
    return None


def read_inside(folder: Path, relative: str) -> str:
    """The text of the file ``relative`` declares, read once, from inside the folder."""
    descriptor = open_inside(folder, inside(folder, relative))
    with os.fdopen(descriptor, encoding="utf-8") as file:
        return file.read()


def allow_open(count: int) -> None:
    """Let this process hold ``count`` more files open, raising its soft limit up to the
    hard one when it must (a read holds every file of its sources open at once)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 256  # what the engine and the rest of the process hold besides
    if soft == resource.RLIM_INFINITY or wanted <= soft:
        return
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if raised > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))


def _failed(error: OSError, path: Path, root: Path) -> OutsideFolder:
    """Why a file could not be opened: too many open at once, or it changed."""
    if error.errno in (errno.EMFILE, errno.ENFILE):
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return OutsideFolder(
            f"{str(path.relative_to(root))!r} is one file too many: the files a read "
            f"holds open at once are past this process's limit ({limit:,})",
            "match fewer files, or raise the limit (ulimit -n)",
        )
    if error.errno == errno.ELOOP and path.is_symlink():
        return OutsideFolder(
            f"{str(path.relative_to(root))!r} is a link: files are read where they are, and "
            "never through a link (which may lead outside the folder)",
            "put the file itself in its place",
        )
    return _changed(path, root)


def _changed(path: Path, root: Path) -> OutsideFolder:
    return OutsideFolder(
        f"{str(path.relative_to(root))!r} changed while it was read (a link or another kind "
        "of file took its place)",
        "let nothing change the product folder while it builds, and try again",
    )
