"""Paths of this machine as the CLI tells them: without their absolute part (`place`).

The Python API keeps them absolute: programs need them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

if TYPE_CHECKING:
    from quanta.model.catalog import ProductRecord, Version
    from quanta.model.result import Issue, Validation


def place(location: str | Path, home: Path | None = None) -> str:
    """Where a file of this machine is, told without the absolute path of the disk.

    Relative to the working folder when inside it; else ``home:`` and the path inside the
    mesh home; else relative to the working folder all the same (``../``). ``file://``
    URIs are paths too; other URIs (object stores) are no place on this disk and stay.
    """
    text = str(location)
    if not text:
        return text
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "file":
            return text
        text = url2pathname(parts.path)
    path, here = Path(text).resolve(), Path.cwd().resolve()
    if path.is_relative_to(here):
        return str(path.relative_to(here))
    if home is not None:
        base = home.resolve()
        if path != base and path.is_relative_to(base):
            return f"home:{path.relative_to(base)}"
    try:
        return os.path.relpath(path, here)
    except ValueError:  # on another drive (Windows): there is no relative path
        return path.name


def placed_issue(issue: Issue, home: Path | None) -> Issue:
    return issue.model_copy(update={"file": place(issue.file, home)})


def placed_validation(validation: Validation, home: Path | None) -> Validation:
    return validation.model_copy(
        update={
            "path": place(validation.path, home),
            "issues": [placed_issue(issue, home) for issue in validation.issues],
        }
    )


def placed_record(record: ProductRecord, home: Path) -> ProductRecord:
    return record.model_copy(update={"folder": place(record.folder, home)})


def placed_version(version: Version, home: Path) -> Version:
    ports = [
        port.model_copy(
            update={
                "metadata_location": place(port.metadata_location, home),
                "location": place(port.location, home),
            }
        )
        for port in version.ports
    ]
    return version.model_copy(update={"ports": ports})
