"""The files a product folder declares, found inside that folder and nowhere else.

Paths in a descriptor are relative to the product folder (`quanta.model.product` refuses
``..`` and absolute paths by their spelling). Symbolic links are resolved here, where files
are read: a link that leads out of the folder is refused like ``..`` is, and a glob matches
only files that are inside, so that what the engine may read is exactly the declared files.
"""

from __future__ import annotations

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
    path = (root / relative).resolve()
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
