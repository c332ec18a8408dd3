"""A hostile review of the DuckDB rewrite of flat Iceberg tables (`IcebergStorage.rewrite`,
`_columns_by_file`, `_filtered`, `_data_file`): attacks it withstands. The ones that
succeed are in tests/pending/hostile_rewrite.py.

Every test makes small tables in a warehouse under ``tmp_path`` with `IcebergStorage.stage`
and `promote`, as tests/test_rewrite_storage.py does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.conversions import from_bytes
from pyiceberg.table import Table

from quanta.storage import RowFilter, RowsBefore, RowsMatching, TableName
from quanta.storage.iceberg import IcebergStorage

TABLE = TableName("customer", "profiles__profiles__v1")
OTHER = TableName("customer", "orders__orders__v1")


def published(
    warehouse: Path,
    data: pa.Table,
    tag: str = "v1",
    *,
    private: tuple[str, ...] = (),
    table: TableName = TABLE,
) -> IcebergStorage:
    storage = IcebergStorage(warehouse)
    staged = storage.stage(table, data.to_reader(), f"publish-{tag}", private=private)
    storage.promote(staged, tag)
    return storage


def erase(
    storage: IcebergStorage, where: RowFilter, job: str = "erase-1", table: TableName = TABLE
):
    rewrites = storage.rewrite(table, where, job)
    storage.repoint(table, job)
    storage.sweep(table)
    return rewrites


def iceberg_of(storage: IcebergStorage, table: TableName = TABLE) -> Table:
    return storage.catalog.load_table((table.namespace, table.name))


def read(storage: IcebergStorage, ref: str = "v1", table: TableName = TABLE) -> pa.Table:
    iceberg = iceberg_of(storage, table)
    return iceberg.scan(snapshot_id=iceberg.metadata.refs[ref].snapshot_id).to_arrow()


def data_files(storage: IcebergStorage, ref: str = "v1", table: TableName = TABLE) -> list:
    iceberg = iceberg_of(storage, table)
    snapshot = iceberg.metadata.refs[ref].snapshot_id
    return [task.file for task in iceberg.scan(snapshot_id=snapshot).plan_files()]


def writer(file) -> str:
    return pq.read_metadata(file.file_path.removeprefix("file://")).created_by.split()[0]


def folder_of(storage: IcebergStorage, table: TableName = TABLE) -> Path:
    return Path(storage.location(table).removeprefix("file://"))


def referenced(storage: IcebergStorage, table: TableName = TABLE) -> set[str]:
    """Every file the table's current metadata references."""
    iceberg = iceberg_of(storage, table)
    found = {iceberg.metadata_location.removeprefix("file://")}
    for snapshot in iceberg.metadata.snapshots:
        found.add(snapshot.manifest_list.removeprefix("file://"))
        for manifest in snapshot.manifests(iceberg.io):
            found.add(manifest.manifest_path.removeprefix("file://"))
            for entry in manifest.fetch_manifest_entry(iceberg.io, discard_deleted=True):
                found.add(entry.data_file.file_path.removeprefix("file://"))
    return found


def ids(count: int) -> list[str]:
    return [f"c-{i:07d}" for i in range(count)]


# -- values in the filter ------------------------------------------------------------------


def test_quotes_backslashes_long_and_unicode_values_match_only_themselves(tmp_path: Path) -> None:
    values = ["o'neil", "back\\slash", "x" * 100_000, "é", "a", "\uff41", "a'; --", "%_*?[a]"]
    near = ["o''neil", "back\\\\slash", "x" * 99_999, "e", "A", "a ", "a'", "%_x?a"]
    data = pa.table({"customer_id": values + near, "n": list(range(len(values) * 2))})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("customer_id", tuple(values)),)))
    assert rewrite.rows_removed == len(values)
    left = read(storage)
    assert left["customer_id"].to_pylist() == near  # every look-alike kept, in its order
    assert [writer(file) for file in data_files(storage)] == ["DuckDB"]


def test_a_nul_in_a_value_fails_closed(tmp_path: Path) -> None:
    """DuckDB's parser stops at the NUL: the query fails, and nothing changes (erasure
    refuses control characters in --id before this)."""
    data = pa.table({"customer_id": ["a\x00b", "a", "b"], "n": [1, 2, 3]})
    storage = published(tmp_path / "w", data)
    refs = storage.refs(TABLE)
    folder = folder_of(storage)
    files = sorted(folder.rglob("*"))
    with pytest.raises(duckdb.Error):
        storage.rewrite(TABLE, RowsMatching((("customer_id", ("a\x00",)),)), "erase-1")
    assert storage.refs(TABLE) == refs
    assert sorted(folder.rglob("*")) == files  # no file written, none removed


def test_the_filter_column_matched_by_exact_name_not_by_case(tmp_path: Path) -> None:
    """A filter naming ``Customer_ID`` in a table of ``customer_id`` removes nothing (as the
    verification finds nothing): DuckDB's case-insensitive names do not widen it."""
    data = pa.table({"customer_id": ids(5), "n": list(range(5))})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("Customer_ID", ("c-0000001",)),)))
    assert not rewrite.changed
    assert read(storage).num_rows == 5


@pytest.mark.parametrize(("upper", "lower"), [("Ω", "ω"), ("É", "é"), ("K", "\u212a")])
def test_names_that_differ_beyond_ascii_are_kept_apart(
    tmp_path: Path, upper: str, lower: str
) -> None:
    data = pa.table({upper: ["x", "y"], lower: ["y", "x"]})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching(((lower, ("x",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage).to_pydict() == {upper: ["x"], lower: ["y"]}


@pytest.mark.parametrize("name", ["with space", 'q"uote', "it's", "a.b", "new\nline", "*"])
def test_names_pyiceberg_spells_otherwise_in_its_files_take_its_delete(
    tmp_path: Path, name: str
) -> None:
    """pyiceberg writes such names sanitized in the Parquet file: the footer check sends the
    table to pyiceberg's delete, which removes the right row."""
    data = pa.table({"customer_id": ["a", "b", "c"], name: [1, 2, 3]})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("customer_id", ("b",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage).to_pydict() == {"customer_id": ["a", "c"], name: [1, 3]}
    assert [writer(file) for file in data_files(storage)] == ["parquet-cpp-arrow"]


@pytest.mark.parametrize("name", ["select", "rowid", "filename", "file_row_number", "ümlaut"])
def test_names_duckdb_treats_specially_are_written_back(tmp_path: Path, name: str) -> None:
    data = pa.table({name: ["a", "b", "c"], "n": [1, 2, 3]})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching(((name, ("b",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage).to_pydict() == {name: ["a", "c"], "n": [1, 3]}
    [file] = data_files(storage)
    assert writer(file) == "DuckDB"
    assert pq.read_schema(file.file_path.removeprefix("file://")).names == [name, "n"]


def test_a_string_identifier_against_an_integer_column(tmp_path: Path) -> None:
    data = pa.table({"n": pa.array([7, 70, 8], pa.int64()), "s": ["a", "b", "c"]})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("n", ("7",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage)["n"].to_pylist() == [70, 8]


def test_nulls_in_the_filter_column_stay(tmp_path: Path) -> None:
    at = [None, datetime(2000, 1, 1, tzinfo=UTC), None, datetime(2030, 1, 1, tzinfo=UTC)]
    data = pa.table({"n": [0, 1, 2, 3], "at": pa.array(at, pa.timestamp("us", tz="UTC"))})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsBefore("at", datetime(2020, 1, 1, tzinfo=UTC)), "retention-1")
    assert rewrite.rows_removed == 1
    assert read(storage)["n"].to_pylist() == [0, 2, 3]
    [file] = data_files(storage)
    assert file.null_value_counts[iceberg_of(storage).schema().find_field("at").field_id] == 2


# -- time at the cutoff ----------------------------------------------------------------------


def test_the_exact_cutoff_instant_stays_in_every_time_type(tmp_path: Path) -> None:
    """Strictly before: a row at the cutoff stays; one microsecond earlier goes. An offset
    cutoff compares as the instant it is; dates before 1970 and far after work."""
    cut = datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)
    offset = cut.astimezone(timezone(timedelta(hours=5, minutes=30)))
    tick = timedelta(microseconds=1)
    instants = [
        cut - tick,
        cut,
        cut + tick,
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
    ]
    data = pa.table(
        {
            "n": list(range(5)),
            "at": pa.array(instants, pa.timestamp("us", tz="UTC")),
            "local": pa.array([i.replace(tzinfo=None) for i in instants], pa.timestamp("us")),
            "day": pa.array([i.date() for i in instants], pa.date32()),
        }
    )
    storage = published(tmp_path / "w", data)
    for job, where, kept in (
        ("retention-1", RowsBefore("at", offset), [1, 2, 4]),
        ("retention-2", RowsBefore("local", cut.replace(tzinfo=None) + tick), [2, 4]),
        ("retention-3", RowsBefore("day", date(1969, 7, 21)), [4]),
    ):
        erase(storage, where, job)
        assert read(storage)["n"].to_pylist() == kept, job


# -- what stays, exactly ---------------------------------------------------------------------


def test_every_kept_float_is_bit_exact(tmp_path: Path) -> None:
    """NaN payloads (quiet and signalling, either sign), -0.0, subnormals, infinities."""
    doubles = [0x7FF8000000000001, 0xFFF8000000000000, 0x8000000000000000, 0x1, 0x7FF0000000000000]
    doubles += [0x3FF0000000000000, 0x7FF4000000000000]
    singles = [0x7FC00001, 0xFFC00000, 0x80000000, 0x1, 0x7F800000, 0x3F800000, 0x7FA00000]
    data = pa.table(
        {
            "customer_id": [f"c{i}" for i in range(7)],
            "f": pa.array(np.array(doubles, np.uint64).view(np.float64)),
            "g": pa.array(np.array(singles, np.uint32).view(np.float32)),
        }
    )
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("customer_id", ("c5",)),)))
    assert rewrite.rows_removed == 1
    left = read(storage)
    del doubles[5], singles[5]
    assert left["f"].to_numpy().view(np.uint64).tolist() == doubles
    assert left["g"].to_numpy().view(np.uint32).tolist() == singles
    [file] = data_files(storage)
    assert writer(file) == "DuckDB"


def test_row_order_is_kept_across_row_groups(tmp_path: Path) -> None:
    storage = IcebergStorage(tmp_path / "w")
    first = pa.table({"customer_id": ["seed"], "n": [0]})
    storage.promote(storage.stage(TABLE, first.to_reader(), "p0"), "v0")
    with iceberg_of(storage).transaction() as transaction:
        transaction.set_properties({"write.parquet.row-group-limit": "64"})
    count = 3000
    rng = np.random.default_rng(7)
    order = rng.permutation(count)
    data = pa.table({"customer_id": [f"c{i % 97}" for i in order], "n": order.tolist()})
    storage.promote(storage.stage(TABLE, data.to_reader(), "p1"), "v1")
    [file] = data_files(storage)
    assert pq.read_metadata(file.file_path.removeprefix("file://")).num_row_groups > 10
    gone = ("c3", "c50", "c96")
    rewrites = erase(storage, RowsMatching((("customer_id", gone),)))
    expected = [int(n) for n in order if f"c{n % 97}" not in gone]
    assert read(storage)["n"].to_pylist() == expected
    assert {r.refs: r.rows_removed for r in rewrites}[("main", "v1")] == count - len(expected)


def test_duckdb_and_pyiceberg_read_the_new_file_alike(tmp_path: Path) -> None:
    count = 200
    data = pa.table(
        {
            "customer_id": [None if i % 9 == 0 else f"c{i % 13}" for i in range(count)],
            "amount": pa.array(
                [Decimal(f"-{i}123456789012345678901234567.{i % 100:02d}") for i in range(count)],
                pa.decimal128(38, 2),
            ),
            "at": pa.array(
                [-(10**15) + i * 10**13 for i in range(count)], pa.timestamp("us", "UTC")
            ),
            "pseudonym": pa.array(
                [uuid.uuid5(uuid.NAMESPACE_DNS, str(i)).bytes for i in range(count)], pa.uuid()
            ),
            "sealed": [bytes([i % 256, 0, 0xFF]) for i in range(count)],
        }
    )
    storage = published(tmp_path / "w", data)
    erase(storage, RowsMatching((("customer_id", ("c1", "c2")),)))
    [file] = data_files(storage)
    path = file.file_path.removeprefix("file://")
    through_pyiceberg = read(storage)
    through_duckdb = duckdb.connect().execute(f"SELECT * FROM read_parquet('{path}')").arrow()
    if isinstance(through_duckdb, pa.RecordBatchReader):
        through_duckdb = through_duckdb.read_all()
    keep = pc.invert(pc.fill_null(pc.is_in(data["customer_id"], pa.array(["c1", "c2"])), False))
    expected = data.filter(keep)
    assert through_pyiceberg.num_rows == expected.num_rows == file.record_count
    for name in ("customer_id", "amount", "sealed"):
        assert through_pyiceberg[name].to_pylist() == expected[name].to_pylist()
        assert through_duckdb[name].to_pylist() == expected[name].to_pylist()
    assert through_pyiceberg["at"].to_pylist() == expected["at"].to_pylist()
    assert (
        through_duckdb["at"].cast(pa.int64()).to_pylist()
        == expected["at"].cast(pa.int64()).to_pylist()
    )
    as_uuid = [uuid.UUID(bytes=b) for b in expected["pseudonym"].cast(pa.binary(16)).to_pylist()]
    assert [
        uuid.UUID(bytes=b) for b in through_pyiceberg["pseudonym"].cast(pa.binary(16)).to_pylist()
    ] == as_uuid
    assert [uuid.UUID(str(u)) for u in through_duckdb["pseudonym"].to_pylist()] == as_uuid


# -- statistics ------------------------------------------------------------------------------


def test_new_entries_count_nulls_and_bound_the_kept_values_alone(tmp_path: Path) -> None:
    """Null and value counts as the file holds; bounds that enclose the kept values (exact
    for numbers and times, in unsigned byte order for text, UUIDs and bytes); none for a
    private column; the catalog's statistics summed from them."""
    count = 60
    extreme = [
        uuid.UUID(int=0),
        uuid.UUID(int=2**128 - 1),
        uuid.UUID(int=2**127),
        uuid.UUID(int=2**127 - 1),
    ]
    data = pa.table(
        {
            "customer_id": [f"c{i % 6}" for i in range(count)],
            "email": [None if i % 5 == 0 else f"person{i}@example.com" for i in range(count)],
            "name": ["é", "z", "a", "ÿ", "\U0010ffff", None] * 10,
            "n": pa.array([None if i % 4 == 0 else i - 30 for i in range(count)], pa.int32()),
            "at": pa.array(
                [None if i % 7 == 0 else -(10**14) * i for i in range(count)],
                pa.timestamp("us", "UTC"),
            ),
            "pseudonym": pa.array(
                [
                    (extreme[i] if i < 4 else uuid.uuid5(uuid.NAMESPACE_OID, str(i))).bytes
                    for i in range(count)
                ],
                pa.uuid(),
            ),
            "sealed": [bytes([255 - i, 1]) for i in range(count)],
        }
    )
    storage = published(tmp_path / "w", data, private=("email",))
    # The subject holds the rows with the smallest and largest n, at and some extreme UUIDs.
    where = RowsMatching((("customer_id", ("c1", "c5")),))
    erase(storage, where)
    iceberg = iceberg_of(storage)
    schema = iceberg.schema()
    [file] = data_files(storage)
    assert writer(file) == "DuckDB"
    kept = pq.read_table(file.file_path.removeprefix("file://"))
    assert kept.num_rows == file.record_count == 40
    assert set(kept["customer_id"].to_pylist()) == {"c0", "c2", "c3", "c4"}
    for field in schema.fields:
        column = kept[field.name]
        assert file.null_value_counts[field.field_id] == column.null_count, field.name
        assert file.value_counts[field.field_id] == kept.num_rows, field.name
    email = schema.find_field("email").field_id
    assert email not in file.lower_bounds
    assert email not in file.upper_bounds

    def bounds(name: str):
        field = schema.find_field(name)
        low = from_bytes(field.field_type, file.lower_bounds[field.field_id])
        high = from_bytes(field.field_type, file.upper_bounds[field.field_id])
        return low, high

    values = [v for v in kept["n"].to_pylist() if v is not None]
    assert bounds("n") == (min(values), max(values))
    micros = [v for v in kept["at"].cast(pa.int64()).to_pylist() if v is not None]
    assert bounds("at") == (min(micros), max(micros))
    names = [v.encode() for v in kept["name"].to_pylist() if v is not None]
    low, high = bounds("name")
    assert low.encode() <= min(names)
    assert high.encode() >= max(names)
    pseudonyms = list(kept["pseudonym"].cast(pa.binary(16)).to_pylist())
    low, high = bounds("pseudonym")
    assert low <= min(pseudonyms)
    assert high >= max(pseudonyms)
    assert (low, high) == (min(pseudonyms), max(pseudonyms)) == (bytes(16), high)
    assert high != b"\xff" * 16  # the removed row's UUID bounds nothing
    sealed = kept["sealed"].to_pylist()
    low, high = bounds("sealed")
    assert low <= min(sealed)
    assert high >= max(sealed)

    staged = storage.staged(TABLE, "v1", contents=True, private=("email",))
    assert staged is not None
    assert staged.stats is not None
    assert staged.stats.rows == 40
    assert staged.stats.columns["n"].nulls == kept["n"].null_count
    assert (staged.stats.columns["n"].lower, staged.stats.columns["n"].upper) == (
        min(values),
        max(values),
    )
    assert staged.stats.columns["email"].lower is None
    assert staged.stats.columns["email"].nulls == kept["email"].null_count


def test_a_column_classified_private_after_the_first_write_gets_no_bounds(tmp_path: Path) -> None:
    first = pa.table({"customer_id": ids(10), "email": [f"e{i}@x.org" for i in range(10)]})
    storage = published(tmp_path / "w", first)
    storage.promote(storage.stage(TABLE, first.to_reader(), "p2", private=("email",)), "v2")
    erase(storage, RowsMatching((("customer_id", ("c-0000003",)),)))
    email = iceberg_of(storage).schema().find_field("email").field_id
    for ref in ("v1", "v2"):
        [file] = data_files(storage, ref)
        assert writer(file) == "DuckDB"
        assert email not in file.lower_bounds
        assert email not in file.upper_bounds


# -- files: shared, many, promoted, elsewhere ------------------------------------------------


def test_a_file_shared_by_two_versions_and_a_version_of_many_files(tmp_path: Path) -> None:
    storage = published(tmp_path / "w", pa.table({"customer_id": ids(10), "n": list(range(10))}))
    iceberg = iceberg_of(storage)
    for part in range(1, 8):  # main: v1's file and seven more, appended
        chunk = pa.table(
            {
                "customer_id": ids(10 * part + 10)[10 * part :],
                "n": list(range(10 * part, 10 * part + 10)),
            }
        )
        iceberg.append(chunk.cast(iceberg.schema().as_arrow()))
        iceberg = iceberg_of(storage)
    iceberg.manage_snapshots().create_tag(iceberg.metadata.refs["main"].snapshot_id, "v2").commit()
    v1_file = {f.file_path for f in data_files(storage, "v1")}
    v2_before = {f.file_path for f in data_files(storage, "v2")}
    assert v1_file < v2_before
    assert len(v2_before) == 8
    where = RowsMatching((("customer_id", ("c-0000003", "c-0000045", "c-0000079")),))
    rewrites = {r.refs: r for r in erase(storage, where)}
    assert rewrites[("v1",)].rows_removed == 1
    v2 = rewrites[("main", "v2")]
    assert (v2.rows_removed, v2.files_rewritten, v2.files_written) == (3, 3, 3)
    v2_after = {f.file_path for f in data_files(storage, "v2")}
    assert len(v2_before & v2_after) == 5  # the untouched files, as they were
    assert not v1_file & {f.file_path for f in data_files(storage, "v1")}
    assert sorted(read(storage, "v2")["n"].to_pylist()) == [
        n for n in range(80) if n not in (3, 45, 79)
    ]
    assert read(storage, "v1")["n"].to_pylist() == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    on_disk = {str(p) for p in folder_of(storage).rglob("*") if p.is_file()}
    assert on_disk == referenced(storage)  # no orphan, nothing missing
    assert all(Path(p).exists() for p in referenced(storage))


def test_a_column_promoted_from_int_to_long_is_rewritten_in_its_old_file(tmp_path: Path) -> None:
    first = pa.table(
        {"customer_id": ["x", "y", "z"], "v": pa.array([1, -(2**31), 2**31 - 1], pa.int32())}
    )
    storage = published(tmp_path / "w", first)
    second = pa.table({"customer_id": ["x", "y", "z"], "v": pa.array([1, 2, 2**40], pa.int64())})
    storage.promote(storage.stage(TABLE, second.to_reader(), "p2"), "v2")
    erase(storage, RowsMatching((("customer_id", ("x",)),)))
    assert read(storage, "v1")["v"].to_pylist() == [-(2**31), 2**31 - 1]
    assert read(storage, "v2")["v"].to_pylist() == [2, 2**40]
    staged = storage.staged(TABLE, "v1", contents=True)
    assert staged is not None
    assert staged.stats is not None
    assert (staged.stats.columns["v"].lower, staged.stats.columns["v"].upper) == (
        -(2**31),
        2**31 - 1,
    )


def test_a_listed_file_outside_the_table_folder_is_neither_read_nor_written(
    tmp_path: Path,
) -> None:
    """A manifest entry pointing into another table's folder: DuckDB's lock refuses it."""
    warehouse = tmp_path / "w"
    storage = published(warehouse, pa.table({"customer_id": ["a", "b"], "n": [1, 2]}))
    published(warehouse, pa.table({"customer_id": ["c", "d"], "n": [3, 4]}), table=OTHER)
    [foreign] = data_files(storage, "v1", OTHER)
    iceberg = iceberg_of(storage)
    with (
        iceberg.transaction() as transaction,
        transaction.update_snapshot().fast_append() as append,
    ):
        append.append_data_file(foreign)
    iceberg = iceberg_of(storage)
    iceberg.manage_snapshots().create_tag(iceberg.metadata.refs["main"].snapshot_id, "v2").commit()
    other_folder = folder_of(storage, OTHER)
    before = {p: p.read_bytes() for p in other_folder.rglob("*") if p.is_file()}
    with pytest.raises(duckdb.PermissionException):
        storage.rewrite(TABLE, RowsMatching((("customer_id", ("c",)),)), "erase-1")
    assert {p: p.read_bytes() for p in other_folder.rglob("*") if p.is_file()} == before


# -- where things are written ------------------------------------------------------------------


@pytest.mark.parametrize(
    "folder", ["runs[1]", "a*b?", "customer_id=c-0000001", 'it\'s "here" {a,b}']
)
def test_a_warehouse_path_with_glob_hive_and_quote_characters(tmp_path: Path, folder: str) -> None:
    """pyiceberg spells the folder percent-encoded, so DuckDB globs nothing and finds no
    hive partition (``customer_id=...`` would otherwise be a column matching every row)."""
    data = pa.table({"customer_id": ids(4), "n": list(range(4))})
    storage = published(tmp_path / folder / "w", data)
    [rewrite] = erase(storage, RowsMatching((("customer_id", ("c-0000001",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage)["n"].to_pylist() == [0, 2, 3]
    [file] = data_files(storage)
    assert writer(file) == "DuckDB"
    assert pq.read_schema(file.file_path.removeprefix("file://")).names == ["customer_id", "n"]


def test_nothing_is_written_outside_the_table_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = published(
        tmp_path / "w", pa.table({"customer_id": ids(2000), "n": list(range(2000))})
    )
    folder = folder_of(storage)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    outside = {p for p in tmp_path.rglob("*") if folder not in p.parents}
    erase(storage, RowsMatching((("customer_id", tuple(ids(2000)[::3])),)))
    assert {p for p in tmp_path.rglob("*") if folder not in p.parents} == outside
    assert list(work.iterdir()) == []  # no .tmp spill folder
    assert [writer(f) for f in data_files(storage)] == ["DuckDB"]


KILLED = """
import os, signal, sys
from pathlib import Path
import quanta.storage.iceberg as iceberg
from quanta.storage import RowsMatching, TableName
real = iceberg._data_file
def dying(*args):
    entry = real(*args)  # the new file is on disk; the commit has not happened
    os.kill(os.getpid(), signal.SIGKILL)
iceberg._data_file = dying
storage = iceberg.IcebergStorage(Path(sys.argv[1]))
storage.rewrite(TableName("customer", "profiles__profiles__v1"),
                RowsMatching((("customer_id", ("c-0000003",)),)), "erase-9")
"""


def test_a_kill_between_writing_and_committing_then_a_second_run(tmp_path: Path) -> None:
    warehouse = tmp_path / "w"
    storage = published(warehouse, pa.table({"customer_id": ids(10), "n": list(range(10))}))
    folder = folder_of(storage)
    before = set(folder.rglob("*.parquet"))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    child = subprocess.run([sys.executable, "-c", KILLED, str(warehouse)], env=env, timeout=60)
    assert child.returncode == -9
    orphans = set(folder.rglob("*.parquet")) - before
    assert len(orphans) == 1  # written, never listed
    assert not any(name.startswith("erase-9") for name in storage.refs(TABLE))
    [rewrite] = storage.rewrite(TABLE, RowsMatching((("customer_id", ("c-0000003",)),)), "erase-9")
    assert (rewrite.rows_removed, rewrite.files_written) == (1, 1)
    storage.repoint(TABLE, "erase-9")
    swept = storage.sweep(TABLE)
    assert swept.files > 0
    assert not any(p.exists() for p in orphans | before)
    on_disk = {str(p) for p in folder.rglob("*") if p.is_file()}
    assert on_disk == referenced(storage)
    assert read(storage)["n"].to_pylist() == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert storage.sweep(TABLE).files == 0  # a second sweep finds nothing to delete


def test_ciphertexts_match_only_their_own_bytes(tmp_path: Path) -> None:
    """An encrypted identifier's filter values are bytes: every byte value, a NUL, a
    quote and a backslash in them match exactly, never a prefix or a look-alike."""
    values = [bytes(range(256)), b"\x00", b"'", b"\\x41", b"A\x00"]
    near = [bytes(range(255)), b"", b"''", b"A", b"A", b"\\\\x41"]
    data = pa.table({"sealed": values + near, "n": list(range(len(values) + len(near)))})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("sealed", tuple(values)),)))
    assert rewrite.rows_removed == len(values)
    assert read(storage)["sealed"].to_pylist() == near
    assert [writer(file) for file in data_files(storage)] == ["DuckDB"]


def test_columns_whose_names_differ_only_in_ascii_case_are_told_apart(tmp_path: Path) -> None:
    """Fixed: In a table with columns ``ID`` and ``id``, erasing the subject ``a`` of
    ``id`` removes the rows where ``ID`` is ``a`` (here every row, though no ``id`` is
    ``a``), and erasing ``s`` of ``id`` removes nothing, leaving the subject's row.

    DuckDB's names are case-insensitive: read_parquet renames the second column ``id_1``
    and ``"id"`` binds to ``ID`` (iceberg.py:432, the count), so a file whose every row
    matches the wrong column is dropped without a COPY (iceberg.py:438); a file with only
    some rows matching fails instead on ``FIELD_IDS {'ID': 1, 'id': 2}`` ("Duplicate struct
    entry name", iceberg.py:441). `_columns_by_file` (iceberg.py:388) does not send such a
    table to pyiceberg's delete, which is case-sensitive; the engine's verification binds
    names the same way, so it does not notice.
    """
    storage = published(tmp_path / "one", pa.table({"ID": ["a", "a"], "id": ["x", "y"]}))
    erase(storage, RowsMatching((("id", ("a",)),)))
    assert read(storage).to_pydict() == {"ID": ["a", "a"], "id": ["x", "y"]}  # no id is a

    storage = published(tmp_path / "two", pa.table({"ID": ["p", "q"], "id": ["s", "t"]}))
    [rewrite] = erase(storage, RowsMatching((("id", ("s",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage).to_pydict() == {"ID": ["q"], "id": ["t"]}


def test_an_integer_identifier_does_not_erase_other_subjects_stored_as_text(
    tmp_path: Path,
) -> None:
    """Fixed: Erasing the integer identifier 7 from a text column also removes the
    rows of the subjects ``007``, `` 7`` and ``+7`` (4 rows removed, not 1).

    `filter_sql` (storage/__init__.py:95) renders ``"customer_no" IN (7)``; DuckDB casts
    the VARCHAR column to INTEGER to compare, and every text that parses as 7 matches
    (iceberg.py:432 counts them, iceberg.py:442 copies without them). pyiceberg's delete,
    which this path replaced, refused the filter ("Cannot convert LongLiteral into
    string"). Erasure types a value by its concept's identifier type (erasure.py `_typed`), so a
    version published while the identifier was text, kept after the governance group made
    it an integer, gets this filter. A column holding any other text (``c-1``) makes the
    rewrite fail with a ConversionException instead. Rendering each value as a literal of
    its column's Iceberg type would fix both.
    """
    data = pa.table({"customer_no": ["007", "7", " 7", "+7", "8"], "n": [0, 1, 2, 3, 4]})
    storage = published(tmp_path / "w", data)
    with contextlib.suppress(Exception):  # refusing the filter, as pyiceberg did, is fine
        erase(storage, RowsMatching((("customer_no", (7,)),)))
    kept = read(storage)["customer_no"].to_pylist()
    assert {"007", " 7", "+7", "8"} <= set(kept)


TIMEZONES = """
import json, sys, tempfile
from datetime import UTC, date, datetime
from pathlib import Path
import pyarrow as pa
from quanta.storage import RowsBefore, TableName
from quanta.storage.iceberg import IcebergStorage
table = TableName("customer", "profiles__profiles__v1")
instants = [datetime(2022, 12, 31, 23, tzinfo=UTC), datetime(2023, 1, 1, 1, tzinfo=UTC),
            datetime(2023, 1, 1, 6, tzinfo=UTC)]
data = pa.table({
    "n": [0, 1, 2],
    "at": pa.array(instants, pa.timestamp("us", tz="UTC")),
    "local": pa.array([i.replace(tzinfo=None) for i in instants], pa.timestamp("us")),
})
found = {}
for job, where in (("retention-1", RowsBefore("at", date(2023, 1, 1))),
                   ("retention-2", RowsBefore("local", datetime(2023, 1, 1, tzinfo=UTC))),
                   ("retention-3", RowsBefore("at", datetime(2023, 1, 1)))):
    storage = IcebergStorage(Path(tempfile.mkdtemp(dir=sys.argv[1])))
    storage.promote(storage.stage(table, data.to_reader(), "p"), "v1")
    storage.rewrite(table, where, job)
    storage.repoint(table, job)
    iceberg = storage.catalog.load_table((table.namespace, table.name))
    found[job] = sorted(iceberg.scan(snapshot_id=iceberg.metadata.refs["v1"].snapshot_id)
                        .to_arrow()["n"].to_pylist())
print(json.dumps(found))
"""


def test_the_rows_a_cutoff_removes_do_not_depend_on_the_machines_time_zone(
    tmp_path: Path,
) -> None:
    """Fixed: With TZ=Asia/Tokyo, a cutoff of 2023-01-01 (a date, or a naive
    2023-01-01T00:00) on a TIMESTAMPTZ column removes nothing (in UTC it removes the row
    of 2022-12-31 23:00Z), and a cutoff of 2023-01-01T00:00Z on a TIMESTAMP column
    removes every row, the two after it included; with TZ=America/New_York the errors go
    the other way (rows still within their retention removed).

    Retention reaches the naive case today: a contract that leaves physicalType out of a
    TIMESTAMPTZ column (logicalType timestamp) gets a naive UTC cutoff (retention.py
    `_plan`), which test_privacy_hostile.py's
    test_retention_judges_the_time_column_by_the_type_it_is_stored_as says DuckDB compares
    in UTC: it does so only on a machine whose zone is UTC.

    The rewrite's DuckDB connection (iceberg.py:418) keeps DuckDB's default TimeZone, the
    process's local zone, where the engine's sessions, which verify the rewrite, set
    ``TimeZone = 'UTC'`` (engines/duckdb.py:88); a DATE or a TIMESTAMP compared with a
    TIMESTAMPTZ is cast in that zone. Setting TimeZone to UTC after connecting (before
    `lock`) would fix it.
    """
    env = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONWARNINGS": "ignore"}
    child = subprocess.run(
        [sys.executable, "-c", TIMEZONES, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    kept = {"retention-1": [1, 2], "retention-2": [1, 2], "retention-3": [1, 2]}
    assert json.loads(child.stdout) == kept


def test_a_decimal_widened_past_18_digits_can_be_rewritten(tmp_path: Path) -> None:
    """Fixed: A table whose decimal(9,2) column became decimal(20,2) (an Iceberg
    promotion that `stage` accepts) cannot lose a row of its older version: every run
    fails with "ValueError: Unexpected physical type INT32 for decimal(20, 2), expected
    FIXED_LEN_BYTE_ARRAY", after leaving one more unlisted file in the table folder; the
    erasure or retention can never finish.

    `_columns_by_file` (iceberg.py:376) checks names and field ids, not types; DuckDB
    writes the old file's INT32 decimals again, and pyiceberg's
    data_file_statistics_from_parquet_metadata (called in `_data_file`, iceberg.py:458)
    refuses that physical type for the table's current type. pyiceberg's delete (the path
    before d51002b) rewrites it fine.
    """
    first = pa.table(
        {"customer_id": ["x", "y", "z"], "v": pa.array([Decimal("1.25")] * 3, pa.decimal128(9, 2))}
    )
    storage = published(tmp_path / "w", first)
    second = first.cast(pa.schema([("customer_id", pa.string()), ("v", pa.decimal128(20, 2))]))
    storage.promote(storage.stage(TABLE, second.to_reader(), "p2"), "v2")
    erase(storage, RowsMatching((("customer_id", ("y",)),)))
    assert read(storage, "v1").to_pydict() == {
        "customer_id": ["x", "z"],
        "v": [Decimal("1.25"), Decimal("1.25")],
    }


def test_a_rewritten_decimal_keeps_the_iceberg_encoding(tmp_path: Path) -> None:
    """Fixed: A decimal(21,2) column, written by pyiceberg as fixed_len_byte_array(9),
    is written again by DuckDB as fixed_len_byte_array(16). The Iceberg spec (Parquet
    appendix) says "Fixed must use the minimum number of bytes that can store P": the new
    files break it, which engines that read the width from the Iceberg type (not the
    footer) may misread, contrary to the promise of `FILTERED_TYPES` (iceberg.py:370,
    "Column types that DuckDB writes back to Parquet exactly as Iceberg stores them").
    DuckDB always uses 16 bytes for decimals of precision 19 to 38; precisions 19 to 37
    would have to go to pyiceberg's delete (or be cast on the way out).
    """
    data = pa.table(
        {"customer_id": ["x", "y", "z"], "v": pa.array([Decimal("1.25")] * 3, pa.decimal128(21, 2))}
    )
    storage = published(tmp_path / "w", data)
    before = [pq.read_schema(f.file_path.removeprefix("file://")) for f in data_files(storage)]
    erase(storage, RowsMatching((("customer_id", ("y",)),)))
    [file] = data_files(storage)
    column = pq.read_metadata(file.file_path.removeprefix("file://")).schema.column(1)
    assert column.physical_type == "FIXED_LEN_BYTE_ARRAY"
    assert column.length == 9, f"written as fixed({column.length}), pyiceberg wrote {before}"


def test_a_column_named_like_duckdbs_field_id_key_can_be_rewritten(tmp_path: Path) -> None:
    """Fixed: A table with a column named ``__duckdb_field_id`` can never lose a row:
    the COPY fails with "Binder Error: Cannot have a column named "__duckdb_field_id" when
    writing FIELD_IDS" (iceberg.py:441), DuckDB's reserved key in the FIELD_IDS struct.
    pyiceberg's delete handles it; `_columns_by_file` (iceberg.py:376) should send such a
    table there.
    """
    data = pa.table({"customer_id": ["a", "b", "c"], "__duckdb_field_id": [1, 2, 3]})
    storage = published(tmp_path / "w", data)
    [rewrite] = erase(storage, RowsMatching((("customer_id", ("b",)),)))
    assert rewrite.rows_removed == 1
    assert read(storage).to_pydict() == {"customer_id": ["a", "c"], "__duckdb_field_id": [1, 3]}
