"""Apache Iceberg tables through pyiceberg, with a SQL catalog (SQLite by default)."""

from __future__ import annotations

import re
import shutil
import uuid
import warnings
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import NoSuchTableError, ValidationError
from pyiceberg.expressions import BooleanExpression, In, LessThan, Or
from pyiceberg.io.pyarrow import (
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table import Table
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    PrimitiveType,
    StringType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)
from sqlalchemy.exc import DBAPIError

from quanta.engines.duckdb_sandbox import lock
from quanta.errors import PlatformError, UserError
from quanta.model.catalog import ColumnStats, TableStats
from quanta.sql_text import fold, literal
from quanta.storage import (
    Rewrite,
    RowFilter,
    RowsBefore,
    RowsMatching,
    StagedTable,
    Swept,
    TableName,
    filter_sql,
)
from quanta.stores.database import sqlalchemy_url

MAIN = "main"
# Row groups of 128k rows let engines split one data file across their threads; pyiceberg's
# default (about a million rows) makes a scan of a million-row table single-threaded.
# Snappy rather than pyiceberg's zstd: files about a third larger, scans about 10% faster,
# and the data path reads far more often than it writes.
TABLE_PROPERTIES = {
    "write.parquet.row-group-limit": "131072",
    "write.parquet.compression-codec": "snappy",
}


class IcebergStorage:
    name = "iceberg"

    def __init__(self, warehouse: Path, catalog_uri: str | None = None) -> None:
        warehouse.mkdir(parents=True, exist_ok=True)
        self.warehouse = warehouse
        # With a catalog URL, Iceberg's table pointers live in the stores' database, reached
        # through the same driver (a bare postgresql:// would ask SQLAlchemy for psycopg2).
        uri = (
            sqlalchemy_url(catalog_uri).render_as_string(hide_password=False)
            if catalog_uri
            else f"sqlite:///{warehouse / 'iceberg.db'}"
        )
        try:
            self.catalog = SqlCatalog(
                "quanta",
                uri=uri,
                warehouse=warehouse.resolve().as_uri(),
            )
        except DBAPIError as error:
            raise _unreadable(error) from None

    def _table(self, table: TableName) -> Table | None:
        try:
            return self.catalog.load_table((table.namespace, table.name))
        except NoSuchTableError:
            return None
        except DBAPIError as error:
            raise _unreadable(error) from None

    def stage(
        self,
        table: TableName,
        data: pa.RecordBatchReader,
        branch: str,
        *,
        private: Collection[str] = (),
    ) -> StagedTable:
        arrow = data.read_all()
        self.catalog.create_namespace_if_not_exists(table.namespace)
        iceberg = self._table(table)
        metrics = _private_metrics(private)
        if iceberg is None:
            iceberg = self.catalog.create_table(
                (table.namespace, table.name),
                schema=arrow.schema,
                location=self.location(table),
                properties={**TABLE_PROPERTIES, **metrics},
            )
            # Branches grow from a snapshot: give a new table an empty one on main, so that
            # main shows no rows until the first version is published.
            iceberg.append(arrow.schema.empty_table())
        try:
            # One commit: a failed write leaves the table's schema as it was.
            with iceberg.transaction() as transaction:
                if any(iceberg.properties.get(key) != value for key, value in metrics.items()):
                    # A column classified private since the last write: from now on.
                    transaction.set_properties(metrics)
                with transaction.update_schema() as update:
                    update.union_by_name(arrow.schema)
                with warnings.catch_warnings():
                    # Overwriting a new, empty branch has nothing to delete; that is expected.
                    warnings.simplefilter("ignore", UserWarning)
                    transaction.overwrite(arrow, branch=branch)
        except (ValidationError, ValueError) as error:
            self.discard(table, branch)
            raise UserError(
                f"the output of {table} changed incompatibly ({error}): a breaking change needs "
                "a new major version of the contract"
            ) from None
        found = self.staged(table, branch, contents=True, private=private)
        assert found is not None, "a branch just written exists"
        # A column an earlier version wrote stays in the table's schema (their snapshots
        # read it), but is none of this output's: its columns are what it wrote.
        return replace(found, columns=tuple(arrow.schema.names))

    def location(self, table: TableName) -> str:
        existing = self._table(table)
        if existing is not None:
            return existing.location()
        return (self.warehouse.resolve() / table.namespace / table.name).as_uri()

    def staged(
        self,
        table: TableName,
        branch: str,
        *,
        contents: bool = False,
        private: Collection[str] = (),
    ) -> StagedTable | None:
        iceberg = self._table(table)
        if iceberg is None or branch not in iceberg.metadata.refs:
            return None
        snapshot_id = iceberg.metadata.refs[branch].snapshot_id
        snapshot = iceberg.snapshot_by_id(snapshot_id)
        summary = snapshot.summary if snapshot is not None else None
        files, stats = _contents(iceberg, snapshot_id, private) if contents else (None, None)
        return StagedTable(
            table=table,
            branch=branch,
            snapshot_id=snapshot_id,
            metadata_location=iceberg.metadata_location,
            location=iceberg.location(),
            rows=int(summary.get("total-records", 0)) if summary else 0,
            bytes=int(summary.get("total-files-size", 0)) if summary else 0,
            files=files,
            stats=stats,
            columns=tuple(field.name for field in iceberg.schema().fields),
        )

    def promote(self, staged: StagedTable, tag: str) -> None:
        iceberg = self._table(staged.table)
        assert iceberg is not None, "a staged table exists"
        manage = iceberg.manage_snapshots()
        if tag in iceberg.metadata.refs:
            manage = manage.remove_tag(tag)
        manage = manage.create_tag(staged.snapshot_id, tag)
        manage = manage.set_current_snapshot(snapshot_id=staged.snapshot_id)
        if staged.branch in iceberg.metadata.refs and staged.branch != MAIN:
            manage = manage.remove_branch(staged.branch)
        manage.commit()

    def discard(self, table: TableName, branch: str) -> None:
        iceberg = self._table(table)
        if iceberg is None:
            return
        if branch in iceberg.metadata.refs and branch != MAIN:
            iceberg.manage_snapshots().remove_branch(branch).commit()
            iceberg = self._table(table)
            assert iceberg is not None
        if set(iceberg.metadata.refs) <= {MAIN} and not _has_rows(iceberg):
            # Never published: leave no trace of the table at all.
            self.catalog.drop_table((table.namespace, table.name))
            folder = Path(iceberg.location().removeprefix("file://"))
            if folder.is_dir() and self.warehouse.resolve() in folder.resolve().parents:
                shutil.rmtree(folder)

    def branches(self, table: TableName) -> list[str]:
        iceberg = self._table(table)
        if iceberg is None:
            return []
        return sorted(
            name for name, ref in iceberg.metadata.refs.items() if ref.snapshot_ref_type == "branch"
        )

    def tables(self) -> list[TableName]:
        try:
            found = [
                TableName(namespace[0], identifier[-1])
                for namespace in self.catalog.list_namespaces()
                for identifier in self.catalog.list_tables(namespace)
            ]
            return sorted(found, key=str)
        except DBAPIError as error:
            raise _unreadable(error) from None

    def refs(self, table: TableName) -> dict[str, int]:
        iceberg = self._table(table)
        if iceberg is None:
            return {}
        return {name: ref.snapshot_id for name, ref in iceberg.metadata.refs.items()}

    def rewrite(self, table: TableName, where: RowFilter, job: str) -> list[Rewrite]:
        iceberg = self._table(table)
        if iceberg is None:
            return []
        prefix = f"{job}-"
        pointed: dict[int, list[str]] = {}
        for name, ref in iceberg.metadata.refs.items():
            if not name.startswith(prefix):
                pointed.setdefault(ref.snapshot_id, []).append(name)
        done = []
        for snapshot_id, names in sorted(pointed.items()):
            iceberg, rewrite = self._rewrite_one(iceberg, snapshot_id, where, prefix)
            done.append(replace(rewrite, refs=tuple(sorted(names))))
        return done

    def _rewrite_one(
        self, iceberg: Table, snapshot_id: int, where: RowFilter, prefix: str
    ) -> tuple[Table, Rewrite]:
        """The snapshot ``snapshot_id`` without the rows ``where`` matches, as a new
        snapshot with no parent on the branch ``{prefix}{snapshot_id}``.

        The new snapshot's one manifest lists its live files alone: a snapshot grown from
        the old one would keep the replaced files in its manifests as deleted entries, with
        their column bounds (values of the removed rows).
        """
        before = _live_files(iceberg, snapshot_id)
        rows_before = sum(file.record_count for file in before)
        clean = f"{prefix}{snapshot_id}"
        if clean not in iceberg.metadata.refs:
            columns = _columns_by_file(iceberg, before)
            if columns is not None:
                kept = _filtered(iceberg, before, _typed(where, iceberg), columns)
            else:
                iceberg, kept = self._deleted(iceberg, snapshot_id, where, prefix)
            if kept is not None:
                with iceberg.transaction() as transaction:
                    if kept:
                        with transaction.update_snapshot(branch=clean).fast_append() as append:
                            for file in kept:
                                append.append_data_file(file)
                    else:
                        transaction.append(iceberg.schema().as_arrow().empty_table(), branch=clean)
                iceberg = self._reload(iceberg)
        if clean not in iceberg.metadata.refs:
            unchanged = Rewrite((), snapshot_id, snapshot_id, None, rows_before, rows_before, 0, 0)
            return iceberg, unchanged
        after_id = iceberg.metadata.refs[clean].snapshot_id
        after = _live_files(iceberg, after_id)
        old = {file.file_path for file in before}
        new = {file.file_path for file in after}
        return iceberg, Rewrite(
            refs=(),
            before=snapshot_id,
            after=after_id,
            branch=clean,
            rows_before=rows_before,
            rows_after=sum(file.record_count for file in after),
            files_rewritten=len(old - new),
            files_written=len(new - old),
        )

    def _deleted(
        self, iceberg: Table, snapshot_id: int, where: RowFilter, prefix: str
    ) -> tuple[Table, list[DataFile] | None]:
        """The live files of the snapshot without the rows ``where`` matches, through
        pyiceberg's copy-on-write delete on a work branch (for tables `_filtered` does not
        take); None when no row matched."""
        work = f"{prefix}{snapshot_id}-work"
        if work not in iceberg.metadata.refs:
            iceberg.manage_snapshots().create_branch(snapshot_id, work).commit()
            iceberg = self._reload(iceberg)
        with warnings.catch_warnings():
            # Nothing to delete is an answer here, not a problem.
            warnings.simplefilter("ignore", UserWarning)
            iceberg.delete(_expression(where), branch=work)
        iceberg = self._reload(iceberg)
        kept = _live_files(iceberg, iceberg.metadata.refs[work].snapshot_id)
        iceberg.manage_snapshots().remove_branch(work).commit()
        iceberg = self._reload(iceberg)
        before = {file.file_path for file in _live_files(iceberg, snapshot_id)}
        return iceberg, None if {file.file_path for file in kept} == before else kept

    def _reload(self, iceberg: Table) -> Table:
        return self.catalog.load_table(iceberg.name())

    def repoint(self, table: TableName, job: str) -> None:
        iceberg = self._table(table)
        if iceberg is None:
            return
        prefix = f"{job}-"
        refs = iceberg.metadata.refs
        rewritten = {
            int(name.removeprefix(prefix)): ref.snapshot_id
            for name, ref in refs.items()
            if name.startswith(prefix) and name.removeprefix(prefix).isdigit()
        }
        manage = iceberg.manage_snapshots()
        for name, ref in refs.items():
            if name.startswith(prefix):
                manage = manage.remove_branch(name)
                continue
            new = rewritten.get(ref.snapshot_id)
            if new is None:
                continue
            if ref.snapshot_ref_type == "tag":
                manage = manage.remove_tag(name).create_tag(new, name)
            else:
                manage = manage.create_branch(new, name)
        manage.commit()

    def sweep(self, table: TableName) -> Swept:
        iceberg = self._table(table)
        if iceberg is None:
            return Swept(0, 0, 0)
        kept = {ref.snapshot_id for ref in iceberg.metadata.refs.values()}
        expired = [s.snapshot_id for s in iceberg.metadata.snapshots if s.snapshot_id not in kept]
        if expired:
            iceberg.maintenance.expire_snapshots().by_ids(expired).commit()
            iceberg = self._reload(iceberg)
        referenced = {_local(iceberg.metadata_location)}
        for snapshot in iceberg.metadata.snapshots:
            referenced.add(_local(snapshot.manifest_list))
            for manifest in snapshot.manifests(iceberg.io):
                referenced.add(_local(manifest.manifest_path))
                for entry in manifest.fetch_manifest_entry(iceberg.io, discard_deleted=True):
                    referenced.add(_local(entry.data_file.file_path))
        folder = Path(_local(iceberg.location()))
        removed = size = 0
        if folder.is_dir() and self.warehouse.resolve() in folder.resolve().parents:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink() and str(path) not in referenced:
                    size += path.stat().st_size
                    path.unlink()
                    removed += 1
        return Swept(len(expired), removed, size)


FILTERED_TYPES = (
    BooleanType,
    IntegerType,
    LongType,
    FloatType,
    DoubleType,
    DecimalType,
    DateType,
    TimestampType,
    TimestamptzType,
    StringType,
    BinaryType,
    UUIDType,
)
"""Column types that DuckDB writes back to Parquet exactly as Iceberg stores them."""
CODECS = {"snappy": "snappy", "zstd": "zstd", "gzip": "gzip", "uncompressed": "uncompressed"}


def _columns_by_file(iceberg: Table, files: list[DataFile]) -> dict[str, dict[str, int]] | None:
    """Each data file's columns and their field ids, from its footer, when `_filtered`
    takes the table (None otherwise): unpartitioned; flat columns of `FILTERED_TYPES`
    (decimals of at most 18 digits, which DuckDB stores as Iceberg asks), named apart as
    DuckDB names them (ASCII case folded) and not as DuckDB's own options; Parquet data
    files whose every column is the table's column of that name, decimals at the table's
    precision (a file from before a decimal was widened keeps its narrower one)."""
    schema = iceberg.schema()
    fields = schema.fields
    if (
        not iceberg.spec().is_unpartitioned()
        or not all(_filtered_type(field.field_type) for field in fields)
        or len({fold(field.name) for field in fields}) < len(fields)
        or any(fold(field.name).startswith("__duckdb") for field in fields)
    ):
        return None
    by_name = {field.name: field for field in fields}
    found = {}
    for file in files:
        if file.content != DataFileContent.DATA or file.file_format != FileFormat.PARQUET:
            return None
        columns = {}
        for stored in pq.read_schema(_local(file.file_path)):
            raw = (stored.metadata or {}).get(b"PARQUET:field_id")
            field = by_name.get(stored.name)
            if raw is None or field is None or field.field_id != int(raw):
                return None
            kind = field.field_type
            if isinstance(kind, DecimalType) and stored.type != pa.decimal128(
                kind.precision, kind.scale
            ):
                return None
            columns[stored.name] = int(raw)
        found[file.file_path] = columns
    return found


def _filtered_type(kind: IcebergType) -> bool:
    if isinstance(kind, DecimalType):
        return kind.precision <= 18
    return isinstance(kind, FILTERED_TYPES)


def _typed(where: RowFilter, iceberg: Table) -> RowFilter:
    """``where`` with its values as the table stores its columns, so that DuckDB compares
    without a cast: an integer value matches a text column as its digits (``7`` is not
    ``007``), a text value an integer column only when it is an integer; a time limit is
    a literal of its column's own type, compared in no time zone."""
    kinds = {field.name: field.field_type for field in iceberg.schema().fields}
    if isinstance(where, RowsBefore):
        return RowsBefore(where.column, _instant(where.cutoff, kinds.get(where.column)))
    columns = []
    for name, values in where.columns:
        kind = kinds.get(name)
        if isinstance(kind, StringType):
            typed: list[str | int | bytes] = [v if isinstance(v, str) else str(v) for v in values]
        elif isinstance(kind, IntegerType | LongType):
            typed = [
                int(v)
                for v in values
                if isinstance(v, int) or (isinstance(v, str) and _INTEGER.fullmatch(v))
            ]
        else:
            typed = list(values)
        columns.append((name, tuple(typed)))
    return RowsMatching(tuple(columns))


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _instant(cutoff: datetime | date, kind: IcebergType | None) -> datetime | date:
    """A time limit as a value of the column's type (a naive time is UTC)."""
    if isinstance(kind, DateType):
        if isinstance(cutoff, datetime):
            return (cutoff.astimezone(UTC) if cutoff.tzinfo else cutoff).date()
        return cutoff
    moment = cutoff if isinstance(cutoff, datetime) else datetime.combine(cutoff, time(), UTC)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if isinstance(kind, TimestamptzType):
        return aware.astimezone(UTC)
    if isinstance(kind, TimestampType):
        return aware.astimezone(UTC).replace(tzinfo=None)
    return cutoff


def _filtered(
    iceberg: Table, files: list[DataFile], where: RowFilter, columns: dict[str, dict[str, int]]
) -> list[DataFile] | None:
    """``files`` without the rows ``where`` matches: a file with none of them as it is, a
    file of nothing but them left out, any other written again by DuckDB without them (its
    rows in their order, its column ids and the table's Parquet settings kept); None when
    no row matched. ``columns``: each file's, as `_columns_by_file` found them.

    DuckDB reads only the filter's columns to find the files, and writes on every core;
    pyiceberg's delete reads every file whole and writes through Arrow.
    """
    location = iceberg.location().rstrip("/")
    properties = iceberg.metadata.properties
    codec = CODECS.get(properties.get("write.parquet.compression-codec", "zstd"), "zstd")
    group = int(properties.get("write.parquet.row-group-limit", "131072"))
    # Parquet is built in: nothing to load, and nothing may be fetched. No spilling: a
    # filtered copy streams, and DuckDB's default spill folder is the working folder.
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        connection.execute("SET temp_directory = ''")
        lock(connection, files=set(), folders={_local(location) + "/"})
        kept: list[DataFile] = []
        changed = False
        for file in files:
            held = columns[file.file_path]
            # A file written before the filter's column was added holds no value of it.
            condition, _ = filter_sql(where, only=held)
            path = literal(_local(file.file_path))
            row = connection.execute(
                f"SELECT count(*) FROM read_parquet({path}) WHERE {condition}"
            ).fetchone()
            matched = int(row[0]) if row else 0
            if not matched:
                kept.append(file)
                continue
            changed = True
            if matched == file.record_count:
                continue
            target = f"{location}/data/{uuid.uuid4()}.parquet"
            connection.execute(
                f"COPY (SELECT * FROM read_parquet({path}) WHERE ({condition}) IS NOT TRUE) "
                f"TO {literal(_local(target))} (FORMAT parquet, COMPRESSION {codec}, "
                f"ROW_GROUP_SIZE {group}, FIELD_IDS {literal(held)})"
            )
            kept.append(_data_file(iceberg, target, file))
    finally:
        connection.close()
    return kept if changed else None


def _data_file(iceberg: Table, target: str, replaced: DataFile) -> DataFile:
    """The manifest entry of the Parquet file ``target``, which holds rows of ``replaced``:
    its statistics read from its footer, as the table's metrics settings allow."""
    path = _local(target)
    footer = pq.read_metadata(path)
    schema = iceberg.schema()
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=footer,
        stats_columns=compute_statistics_plan(schema, iceberg.metadata.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=target,
        file_format=FileFormat.PARQUET,
        partition=replaced.partition,
        file_size_in_bytes=Path(path).stat().st_size,
        sort_order_id=None,
        spec_id=replaced.spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def _expression(where: RowFilter) -> BooleanExpression:
    if isinstance(where, RowsBefore):
        cutoff = where.cutoff
        return LessThan(term=where.column, value=cutoff.isoformat())
    assert isinstance(where, RowsMatching)
    parts: list[BooleanExpression] = [
        In(term=column, literals=set(values)) for column, values in where.columns if values
    ]
    assert parts, "a filter that matches rows"
    return parts[0] if len(parts) == 1 else Or(*parts)


def _live_files(iceberg: Table, snapshot_id: int) -> list[DataFile]:
    snapshot = iceberg.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return []
    return [
        entry.data_file
        for manifest in snapshot.manifests(iceberg.io)
        for entry in manifest.fetch_manifest_entry(iceberg.io, discard_deleted=True)
    ]


def _unreadable(error: DBAPIError) -> PlatformError:
    return PlatformError(
        f"the catalog of the warehouse's tables cannot be read ({str(error.orig).strip()}): "
        "restore warehouse/iceberg.db in the mesh home from a backup"
    )


def _has_rows(iceberg: Table) -> bool:
    snapshot = iceberg.current_snapshot()
    summary = snapshot.summary if snapshot is not None else None
    return bool(summary and int(summary.get("total-records", 0)))


def _private_metrics(private: Collection[str]) -> dict[str, str]:
    """Table properties that keep private columns' values out of the manifests.

    Iceberg writers record a lower and an upper bound per column and file, the first
    characters of a text value included (an email's first 16): for these columns they
    record counts only, which tell nothing of the values.
    """
    return {f"write.metadata.metrics.column.{name}": "counts" for name in sorted(private)}


def _contents(
    iceberg: Table, snapshot_id: int, private: Collection[str] = ()
) -> tuple[tuple[str, ...] | None, TableStats | None]:
    """The snapshot's Parquet files and its statistics, from its manifests.

    The statistics are what any Iceberg writer records per data file (rows, null and NaN
    counts, lower and upper bounds), summed over the files; never the bounds of ``private``
    columns, even where an older file recorded them. Both are None when the snapshot has
    delete files: its files then hold rows it no longer has.
    """
    tasks = list(iceberg.scan(snapshot_id=snapshot_id).plan_files())
    plain = all(
        not task.delete_files
        and task.file.content == DataFileContent.DATA
        and task.file.file_format == FileFormat.PARQUET
        for task in tasks
    )
    if not plain:
        return None, None
    files = tuple(_local(task.file.file_path) for task in tasks)
    schema = iceberg.schema()
    rows = sum(task.file.record_count for task in tasks)
    columns: dict[str, ColumnStats] = {}
    for field in schema.fields:
        kind = field.field_type
        if not isinstance(kind, PrimitiveType):
            continue
        nulls = _total([task.file.null_value_counts for task in tasks], field.field_id)
        nans = (
            _total([task.file.nan_value_counts for task in tasks], field.field_id)
            if isinstance(kind, FloatType | DoubleType)
            else 0
        )
        lower = upper = None
        if (
            isinstance(kind, BOUNDED)
            and nulls is not None
            and nulls < rows
            and field.name not in private
        ):
            lowers = [_bound(kind, task.file.lower_bounds, field.field_id) for task in tasks]
            uppers = [_bound(kind, task.file.upper_bounds, field.field_id) for task in tasks]
            # A file with values but no bound leaves the table's bound unknown.
            known = all(
                low is not None and high is not None
                for task, low, high in zip(tasks, lowers, uppers, strict=True)
                if (task.file.null_value_counts or {}).get(field.field_id, 0)
                < task.file.record_count
            )
            if known:
                lower = _json(kind, min(v for v in lowers if v is not None))
                upper = _json(kind, max(v for v in uppers if v is not None))
        columns[field.name] = ColumnStats(nulls=nulls, nans=nans, lower=lower, upper=upper)
    return files, TableStats(rows=rows, columns=columns)


BOUNDED = (IntegerType, LongType, FloatType, DoubleType, DateType, TimestampType, TimestamptzType)
"""Types whose bounds writers record exactly (text bounds are truncated)."""
EPOCH = datetime(1970, 1, 1)


def _total(counts: list[dict[int, int] | None], field_id: int) -> int | None:
    found = [(mapping or {}).get(field_id) for mapping in counts]
    if any(value is None for value in found):
        return None
    return sum(value for value in found if value is not None)


def _bound(kind: PrimitiveType, bounds: dict[int, bytes] | None, field_id: int) -> Any:
    raw = (bounds or {}).get(field_id)
    return None if raw is None else from_bytes(kind, raw)


def _json(kind: PrimitiveType, value: Any) -> int | float | str:
    """A decoded bound as catalog JSON: numbers as they are, dates and times as ISO text."""
    if isinstance(kind, DateType):
        return (date(1970, 1, 1) + timedelta(days=int(value))).isoformat()
    if isinstance(kind, TimestampType):
        return (EPOCH + timedelta(microseconds=int(value))).isoformat()
    if isinstance(kind, TimestamptzType):
        return (EPOCH.replace(tzinfo=UTC) + timedelta(microseconds=int(value))).isoformat()
    return float(value) if isinstance(kind, FloatType | DoubleType) else int(value)


def _local(uri: str) -> str:
    """A data file's address as engines take it: a plain path for local files.

    pyiceberg writes under the warehouse URI as it is spelled, percent signs included (a
    home in ``My Projects`` holds a folder ``My%20Projects``): the path is not decoded.
    """
    return uri.removeprefix("file://")
