"""Rewriting every snapshot of an Iceberg table without some rows: the storage's part of
retention and erasure, on real tables in a warehouse folder."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.manifest import read_manifest_list

from quanta.storage import RowsBefore, RowsMatching, TableName
from quanta.storage.iceberg import IcebergStorage

TABLE = TableName("customer", "profiles__profiles__v1")
SUBJECT = "c-0000001"


def rows(first: int, count: int) -> pa.RecordBatchReader:
    ids = [f"c-{i:07d}" for i in range(first, first + count)]
    at = [datetime(2020 + i % 5, 1, 1, tzinfo=UTC) for i in range(count)]
    table = pa.table({"customer_id": ids, "at": pa.array(at, pa.timestamp("us", tz="UTC"))})
    return table.to_reader(max_chunksize=100)


def publish(storage: IcebergStorage, data: pa.RecordBatchReader, tag: str) -> int:
    staged = storage.stage(TABLE, data, f"publish-{tag}")
    storage.promote(staged, tag)
    return staged.snapshot_id


@pytest.fixture
def storage(tmp_path: Path) -> IcebergStorage:
    found = IcebergStorage(tmp_path / "warehouse")
    publish(found, rows(1, 500), "v1")
    publish(found, rows(0, 500), "v2")
    return found


def everything_under(folder: Path) -> list[str]:
    """Every value of every Parquet file and every field of every Avro manifest, as text,
    and every other file's bytes: where a subject's id could still be found."""
    found: list[str] = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            for column in pq.read_table(path).columns:
                found.extend(str(value) for value in column.to_pylist())
        elif path.suffix == ".avro":
            found.append(repr(_avro(path)))
        else:
            found.append(path.read_bytes().decode("utf-8", "replace"))
    return found


def _avro(path: Path) -> object:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import ManifestFile

    io = PyArrowFileIO()
    if path.name.startswith("snap-"):
        return list(read_manifest_list(io.new_input(str(path))))
    manifest = ManifestFile.from_args(manifest_path=str(path))
    return [
        (entry.data_file.lower_bounds, entry.data_file.upper_bounds, entry.data_file.file_path)
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=False)
    ]


def holds(folder: Path, value: str) -> bool:
    return any(value in text for text in everything_under(folder))


def test_every_version_loses_the_rows_and_nothing_keeps_them(storage: IcebergStorage) -> None:
    folder = Path(storage.location(TABLE).removeprefix("file://"))
    assert holds(folder, SUBJECT)  # the scan finds what is there
    before = storage.refs(TABLE)

    where = RowsMatching((("customer_id", (SUBJECT,)),))
    rewrites = storage.rewrite(TABLE, where, "erase-1")
    assert storage.refs(TABLE)["v1"] == before["v1"]  # nothing moved yet
    storage.repoint(TABLE, "erase-1")
    swept = storage.sweep(TABLE)

    after = storage.refs(TABLE)
    assert set(after) == {"main", "v1", "v2"}
    assert all(after[ref] != before[ref] for ref in ("v1", "v2"))
    assert after["main"] == after["v2"]
    assert sorted(r.rows_removed for r in rewrites) == [1, 1]
    assert {ref for r in rewrites for ref in r.refs} == {"main", "v1", "v2"}
    assert swept.snapshots >= 2
    assert swept.files > 0
    assert not holds(folder, SUBJECT)
    assert holds(folder, "c-0000002")  # everyone else is still there
    for ref in ("v1", "v2"):
        staged = storage.staged(TABLE, ref, contents=True)
        assert staged is not None
        assert staged.rows == 499


def test_a_second_run_finishes_and_deletes_nothing_twice(storage: IcebergStorage) -> None:
    where = RowsMatching((("customer_id", (SUBJECT,)),))
    first = storage.rewrite(TABLE, where, "erase-2")
    again = storage.rewrite(TABLE, where, "erase-2")  # as after a kill before repointing
    assert [(r.before, r.after, r.rows_removed) for r in again] == [
        (r.before, r.after, r.rows_removed) for r in first
    ]
    storage.repoint(TABLE, "erase-2")
    later = storage.rewrite(TABLE, where, "erase-3")  # a run after it finished
    assert all(not r.changed and r.rows_removed == 0 for r in later)
    storage.repoint(TABLE, "erase-3")
    assert [name for name in storage.refs(TABLE) if name.startswith("erase")] == []


def test_rows_older_than_a_limit(storage: IcebergStorage) -> None:
    where = RowsBefore("at", datetime(2023, 1, 1, tzinfo=UTC))
    rewrites = storage.rewrite(TABLE, where, "retention-1")
    storage.repoint(TABLE, "retention-1")
    storage.sweep(TABLE)
    assert sorted(r.rows_removed for r in rewrites) == [300, 300]
    staged = storage.staged(TABLE, "v2", contents=True)
    assert staged is not None
    assert staged.rows == 200


def test_a_version_with_nothing_to_remove_is_left_as_it_is(storage: IcebergStorage) -> None:
    before = storage.refs(TABLE)
    where = RowsMatching((("customer_id", ("c-0000000",)),))  # only in v2
    rewrites = storage.rewrite(TABLE, where, "erase-4")
    storage.repoint(TABLE, "erase-4")
    storage.sweep(TABLE)
    after = storage.refs(TABLE)
    assert after["v1"] == before["v1"]
    assert after["v2"] != before["v2"]
    assert [r.changed for r in sorted(rewrites, key=lambda r: r.refs)] == [True, False]
    staged = storage.staged(TABLE, "v1", contents=True)
    assert staged is not None
    assert staged.rows == 500


def test_every_row_removed_leaves_an_empty_version(storage: IcebergStorage) -> None:
    where = RowsBefore("at", datetime(2100, 1, 1, tzinfo=UTC))
    storage.rewrite(TABLE, where, "retention-2")
    storage.repoint(TABLE, "retention-2")
    storage.sweep(TABLE)
    for ref in ("v1", "v2", "main"):
        staged = storage.staged(TABLE, ref, contents=True)
        assert staged is not None
        assert staged.rows == 0
        assert staged.files == ()


def test_a_rewrite_waits_for_publishes_and_publishes_for_a_rewrite(tmp_path: Path) -> None:
    """The tables lock: shared by publishes, exclusive for rewrites, across processes."""
    import fcntl
    import os
    import subprocess
    import sys

    from quanta.locking import maintenance, publishing

    hold = (
        "import sys\n"
        "from pathlib import Path\n"
        "from quanta.locking import {kind}\n"
        "with {kind}(Path(sys.argv[1])):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n"
    )

    def free(mode: int) -> bool:
        """Whether this process could take the lock in ``mode`` now."""
        descriptor = os.open(tmp_path / "locks" / "tables.lock", os.O_RDWR)
        try:
            fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(descriptor)
        return True

    for kind, shared, exclusive in (("publishing", True, False), ("maintenance", False, False)):
        child = subprocess.Popen(
            [sys.executable, "-c", hold.format(kind=kind), str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "held"
        assert free(fcntl.LOCK_SH) == shared  # publishes beside a publish, not a rewrite
        assert free(fcntl.LOCK_EX) == exclusive  # a rewrite beside nothing
        child.stdin.write("go\n")
        child.stdin.close()
        assert child.wait(timeout=60) == 0
        assert free(fcntl.LOCK_EX)  # let go when it ends
    with maintenance(tmp_path), publishing(tmp_path):  # its own publishes do not wait
        assert not free(fcntl.LOCK_SH)


def every_type(count: int) -> pa.Table:
    """Rows of every column type a flat table holds, ``customer_id`` null in every 7th."""
    from decimal import Decimal

    return pa.table(
        {
            "customer_id": [None if i % 7 == 0 else f"c-{i % 50:07d}" for i in range(count)],
            "n": pa.array(range(count), pa.int32()),
            "big": pa.array([i * 10**10 for i in range(count)], pa.int64()),
            "ratio": pa.array([i / 3 for i in range(count)], pa.float32()),
            "share": [i / 7 for i in range(count)],
            "amount": pa.array([Decimal(i) / 100 for i in range(count)], pa.decimal128(12, 2)),
            "day": pa.array(list(range(count)), pa.date32()),
            "local": pa.array([i * 10**6 for i in range(count)], pa.timestamp("us")),
            "at": pa.array([i * 10**6 for i in range(count)], pa.timestamp("us", tz="UTC")),
            "paid": [i % 2 == 0 for i in range(count)],
            "sealed": [bytes([i % 256, 0, 255]) for i in range(count)],
            "pseudonym": pa.array(
                [uuid.uuid5(uuid.NAMESPACE_OID, str(i)).bytes for i in range(count)], pa.uuid()
            ),
        }
    )


def test_a_rewritten_file_keeps_every_other_row_as_it_was(tmp_path: Path) -> None:
    storage = IcebergStorage(tmp_path / "warehouse")
    data = every_type(1000)
    staged = storage.stage(TABLE, data.to_reader(max_chunksize=250), "p", private={"share"})
    storage.promote(staged, "v1")
    where = RowsMatching((("customer_id", (SUBJECT, "c-0000002")),))
    [rewrite] = storage.rewrite(TABLE, where, "erase-5")
    storage.repoint(TABLE, "erase-5")
    storage.sweep(TABLE)

    iceberg = storage.catalog.load_table((TABLE.namespace, TABLE.name))
    read = iceberg.scan(snapshot_id=iceberg.metadata.refs["v1"].snapshot_id).to_arrow()
    gone = pa.compute.is_in(data["customer_id"], pa.array([SUBJECT, "c-0000002"]))
    expected = data.filter(pa.compute.invert(pa.compute.fill_null(gone, False)))
    assert rewrite.rows_removed == data.num_rows - expected.num_rows > 0
    assert read.sort_by("n").equals(expected.cast(read.schema))  # nulls kept, values exact
    ids = {field.name: field.field_id for field in iceberg.schema().fields}
    share = ids["share"]
    writers = set()
    for task in iceberg.scan().plan_files():
        path = task.file.file_path.removeprefix("file://")
        writers.add(pq.read_metadata(path).created_by.split()[0])
        written = pq.read_schema(path)
        assert {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in written} == ids
        assert share not in (task.file.lower_bounds or {})  # a private column: counts only
        assert task.file.null_value_counts[ids["customer_id"]] > 0
    assert writers == {"DuckDB"}  # the one file, written again without the rows


def test_a_table_with_nested_columns_is_rewritten_too(tmp_path: Path) -> None:
    storage = IcebergStorage(tmp_path / "warehouse")
    ids = [f"c-{i:07d}" for i in range(100)]
    data = pa.table({"customer_id": ids, "tags": [[f"t{i}", "x"] for i in range(100)]})
    staged = storage.stage(TABLE, data.to_reader(), "p")
    storage.promote(staged, "v1")
    folder = Path(storage.location(TABLE).removeprefix("file://"))
    [rewrite] = storage.rewrite(TABLE, RowsMatching((("customer_id", (SUBJECT,)),)), "erase-6")
    storage.repoint(TABLE, "erase-6")
    storage.sweep(TABLE)
    assert rewrite.rows_removed == 1
    iceberg = storage.catalog.load_table((TABLE.namespace, TABLE.name))
    for task in iceberg.scan().plan_files():  # pyiceberg's delete wrote them
        assert pq.read_metadata(task.file.file_path.removeprefix("file://")).created_by.startswith(
            "parquet-cpp-arrow"
        )
    assert not any(value == SUBJECT for value in everything_under(folder))
    assert [name for name in storage.refs(TABLE) if name.startswith("erase")] == []


def test_a_version_written_before_the_filtered_column_was_added_keeps_its_rows(
    tmp_path: Path,
) -> None:
    storage = IcebergStorage(tmp_path / "warehouse")
    first = pa.table({"n": list(range(10))})
    storage.promote(storage.stage(TABLE, first.to_reader(), "p1"), "v1")
    second = pa.table({"n": list(range(10)), "customer_id": [f"c-{i:07d}" for i in range(10)]})
    storage.promote(storage.stage(TABLE, second.to_reader(), "p2"), "v2")
    rewrites = storage.rewrite(TABLE, RowsMatching((("customer_id", (SUBJECT,)),)), "erase-7")
    storage.repoint(TABLE, "erase-7")
    storage.sweep(TABLE)
    assert {r.refs: r.rows_removed for r in rewrites} == {("v1",): 0, ("main", "v2"): 1}
    for ref, rows in (("v1", 10), ("v2", 9)):
        staged = storage.staged(TABLE, ref, contents=True)
        assert staged is not None
        assert staged.rows == rows
