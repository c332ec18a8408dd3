"""What Parquet files tell of themselves in their footers, read without a scan: the
columns' names and, per column, the null count and bounds the writer recorded; and the
keys the first objects of a JSON file hold.

Read through DuckDB's ``parquet_schema`` and ``parquet_metadata`` (the same reader the
scan uses, so both agree on what a file holds), on a connection of its own that loads
no extension and runs only these statements (`FooterReader`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from quanta.model.catalog import ColumnStats, TableStats
from quanta.product_files import OutsideFolder, open_inside, opened_path
from quanta.sql_text import literal

EXACT: dict[str, Callable[[str], int | date | datetime]] = {
    "TINYINT": int,
    "SMALLINT": int,
    "INTEGER": int,
    "BIGINT": int,
    "UTINYINT": int,
    "USMALLINT": int,
    "UINTEGER": int,
    "DATE": date.fromisoformat,
    "TIMESTAMP": datetime.fromisoformat,
    "TIMESTAMP_MS": datetime.fromisoformat,
    "TIMESTAMP WITH TIME ZONE": datetime.fromisoformat,
}
"""Types whose bounds writers record exactly, and how a bound of each reads. Floats keep
none: a footer does not count NaN, which sorts above every number. Unsigned 64-bit
integers, nanosecond times and INT96 times are left out as readers disagree on them."""


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str | None
    """The engine's type; None for a nested column (which has no statistics of its own)."""
    leaf: int | None
    """Its place among the file's leaf columns, as ``parquet_metadata`` numbers them."""


class Unreadable(Exception):
    """A file whose footer cannot be read: the scan reports it, by its name."""


def _columns(connection: duckdb.DuckDBPyConnection, path: str) -> list[_Column]:
    """The file's top-level columns, in order."""
    try:
        rows = connection.execute(
            "SELECT name, duckdb_type, num_children, type, logical_type "
            f"FROM parquet_schema({literal(path)})"
        ).fetchall()
    except duckdb.Error as error:
        raise Unreadable(path) from error
    columns: list[_Column] = []
    leaves = 0
    pending = [int(rows[0][2] or 0)] if rows else []  # children still to come, per level
    for name, kind, children, physical, logical in rows[1:]:
        depth = len(pending)
        pending[-1] -= 1
        if children:
            if depth == 1:
                columns.append(_Column(str(name), None, None))
            pending.append(int(children))
        else:
            if depth == 1:
                exact = physical != "INT96" and "NANOS=NanoSeconds" not in str(logical or "")
                columns.append(_Column(str(name), str(kind) if exact else "", leaves))
            leaves += 1
        while pending and pending[-1] == 0:
            pending.pop()
    return columns


@dataclass(frozen=True)
class Footer:
    """What one file's footer says: its top-level columns and, per row group, its row
    count and per leaf column the null count and bounds (None where it holds none)."""

    path: str
    columns: list[_Column]
    groups: list[tuple[int, dict[int, tuple[int | None, str | None, str | None]]]]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


@contextmanager
def _opened(path: str, root: str) -> Iterator[str]:
    """A name by which the engine reads exactly the file ``path`` names, opened as the
    scan opens it (beneath ``root``): `Unreadable` when it cannot be."""
    try:
        descriptor = open_inside(Path(root), Path(path)) if root else os.open(path, os.O_RDONLY)
    except (OutsideFolder, OSError) as error:
        raise Unreadable(path) from error
    try:
        yield opened_path(descriptor) or path
    finally:
        os.close(descriptor)


JSON_SAMPLE = 20_480
"""How many objects of a JSON file the engine reads to learn its columns (its default)."""


class FooterReader:
    """One connection, opened when first needed, that reads the footers and JSON keys of
    every file of a run: connecting costs more than reading a small file's footer."""

    def __init__(self) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> FooterReader:
        return self

    def __exit__(self, *_: object) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb.connect(
                ":memory:",
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
            self._connection.execute("SET TimeZone = 'UTC'")  # zoned bounds are UTC
        return self._connection

    def footers(self, paths: Sequence[str], root: str = "") -> list[Footer]:
        """The footers of ``paths``; `Unreadable` names the first file that has none to
        read, or that leads outside ``root`` (the scan then refuses it).

        Each file is opened as the scan opens it (beneath ``root``) and read through its
        descriptor: a name holding ``[`` or ``?`` is no pattern to the engine."""
        found = []
        for path in paths:
            with _opened(path, root) as name:
                columns = _columns(self.connection, name)
                found.append(Footer(path, columns, _row_groups(self.connection, name)))
        return found

    def json_keys(self, paths: Sequence[str], root: str = "") -> list[tuple[str, list[str]]]:
        """Per JSON file, the keys its first objects hold (`JSON_SAMPLE` of them, as the
        engine samples them); a file the engine cannot read so is left out (the scan
        reports it)."""
        found = []
        for path in paths:
            try:
                with _opened(path, root) as name:
                    rows = self.connection.execute(
                        "SELECT DISTINCT unnest(json_keys(json)) FROM (SELECT json FROM "
                        f"read_json_objects({literal(name)}) LIMIT {JSON_SAMPLE})"
                    ).fetchall()
            except (Unreadable, duckdb.Error):
                continue
            found.append((path, [str(row[0]) for row in rows]))
        return found


def footer_stats(footers: Sequence[Footer], private: set[str]) -> TableStats | None:
    """Row count and per column the null count and bounds, from the Parquet files' footers
    (which the engine trusts too, to skip row groups): the rules they settle cost no scan.

    Bounds are kept for whole numbers, dates and times (`EXACT`), and never for
    ``private`` columns. A column some file lacks, or names in another case, is left
    unknown: the scan decides.
    """
    rows = 0
    nulls: dict[str, int] = {}
    unknown: set[str] = set()  # a footer without a null count: nothing known of the column
    lows: dict[str, list[Any]] = {}
    highs: dict[str, list[Any]] = {}
    unbounded = set(private)  # values in a row group with no bounds: none kept
    inexact: set[str] = set()  # NaN is not counted, nor part of the bounds
    kinds: dict[str, set[str]] = {}
    spelled = {name for footer in footers for name in footer.names}
    for footer in footers:  # the engine reads such a column as it can: the scan decides
        unknown |= spelled - set(footer.names)
    for footer in footers:
        groups = footer.groups
        rows += sum(count for count, _ in groups)
        for column in footer.columns:
            name = column.name
            if column.kind is None or column.leaf is None:
                unknown.add(name)
                continue
            kinds.setdefault(name, set()).add(column.kind)
            read = EXACT.get(column.kind)
            if read is None:
                unbounded.add(name)
                inexact.add(name)
            for count, found in groups:
                null_count, low, high = found.get(column.leaf, (None, None, None))
                if null_count is None:
                    unknown.add(name)
                    continue
                nulls[name] = nulls.get(name, 0) + null_count
                if null_count == count:
                    continue  # no values: no bounds to have
                if read is None:
                    continue
                try:
                    if low is None or high is None:
                        raise ValueError("no bounds")
                    lows.setdefault(name, []).append(read(low))
                    highs.setdefault(name, []).append(read(high))
                except ValueError:  # none recorded, or none Python reads (year 0)
                    unbounded.add(name)
    stats = {}
    for name in {*nulls, *unknown}:
        if name in unknown:
            stats[name] = ColumnStats()
            continue
        lower = upper = None
        # Files that type the column differently: the scan decides.
        if name not in unbounded and name in lows and len(kinds[name]) == 1:
            lower, upper = _plain(min(lows[name])), _plain(max(highs[name]))
        nans = None if name in inexact else 0
        stats[name] = ColumnStats(nulls=nulls[name], nans=nans, lower=lower, upper=upper)
    return TableStats(rows=rows, columns=stats)


def _row_groups(
    connection: duckdb.DuckDBPyConnection, path: str
) -> list[tuple[int, dict[int, tuple[int | None, str | None, str | None]]]]:
    """Per row group of the file: its row count and, per leaf column, its null count and
    bounds as the footer holds them (None where it holds none)."""
    try:
        found = connection.execute(
            "SELECT row_group_id, row_group_num_rows, column_id, stats_null_count, "
            "stats_min_value, stats_max_value "
            f"FROM parquet_metadata({literal(path)}) ORDER BY row_group_id, column_id"
        ).fetchall()
    except duckdb.Error as error:
        raise Unreadable(path) from error
    groups: dict[int, tuple[int, dict[int, tuple[int | None, str | None, str | None]]]] = {}
    for group, count, column, null_count, low, high in found:
        groups.setdefault(int(group), (int(count), {}))[1][int(column)] = (null_count, low, high)
    if not found:  # a file of no row groups: its rows are none
        return []
    return [groups[group] for group in sorted(groups)]


def _plain(value: int | date | datetime) -> int | str:
    """A bound as `ColumnStats` keeps it: numbers as they are, dates and times as ISO text."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
