"""What a DuckDB session may read: its source files held open, the rest of the disk locked away.

A session opens the files of its sources beneath their folders before anything else
(`opened`), so a link someone swaps in later cannot redirect a read; then it lets the
connection read exactly the files and folders its bindings need (`readable`), and nothing
else, ever (`lock`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import duckdb

from quanta.model.relations import Binding, DatabaseTable, FileScan
from quanta.product_files import open_inside, opened_path
from quanta.sql_text import literal


def lock(connection: duckdb.DuckDBPyConnection, *, files: set[str], folders: set[str]) -> None:
    """Let the connection read ``files`` and the files in ``folders``, and nothing else, ever."""
    connection.execute(f"SET allowed_directories = {literal(sorted(folders))}")
    connection.execute(f"SET allowed_paths = {literal(sorted(files))}")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def opened(binding: Binding, descriptors: list[int]) -> Binding:
    """The binding with its source files as open descriptors (kept in ``descriptors``)."""
    relation = binding.relation
    if not isinstance(relation, FileScan) or not relation.root:
        return binding
    root = Path(relation.root)
    paths = []
    for path in relation.paths:
        descriptor = open_inside(root, Path(path))
        descriptors.append(descriptor)
        # Where the system has no path for an open file, the checked path it is.
        paths.append(opened_path(descriptor) or path)
    return dataclasses.replace(
        binding, relation=dataclasses.replace(relation, paths=tuple(paths), root="")
    )


def close_descriptors(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        with suppress(OSError):
            os.close(descriptor)
    descriptors.clear()


def folder(location: str) -> str:
    return location.removeprefix("file://").rstrip("/") + "/"


def readable(bindings: Sequence[Binding]) -> tuple[set[str], set[str]]:
    """The files, and the folders, that reading ``bindings`` needs: no more."""
    files: set[str] = set()
    folders: set[str] = set()
    for binding in bindings:
        relation = binding.relation
        if isinstance(relation, FileScan):
            files.update(relation.paths)
        elif isinstance(relation, DatabaseTable):
            continue  # attached before the lock, and read through that alone
        elif relation.files:
            files.update(relation.files)
        else:
            # Planning a scan from Iceberg metadata reads the metadata and manifests too.
            folders.add(folder(relation.location))
    return files, folders
