"""Apache Iceberg tables through pyiceberg, with a SQL catalog (SQLite by default)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError, ValidationError
from pyiceberg.table import Table

from quanta.errors import UserError
from quanta.storage import StagedTable, TableName

MAIN = "main"
# Row groups of 128k rows let engines split one data file across their threads; pyiceberg's
# default (about a million rows) makes a scan of a million-row table single-threaded.
TABLE_PROPERTIES = {"write.parquet.row-group-limit": "131072"}


class IcebergStorage:
    name = "iceberg"

    def __init__(self, warehouse: Path, catalog_uri: str | None = None) -> None:
        warehouse.mkdir(parents=True, exist_ok=True)
        self.warehouse = warehouse
        self.catalog = SqlCatalog(
            "quanta",
            uri=catalog_uri or f"sqlite:///{warehouse / 'iceberg.db'}",
            warehouse=warehouse.resolve().as_uri(),
        )

    def _table(self, table: TableName) -> Table | None:
        try:
            return self.catalog.load_table((table.namespace, table.name))
        except NoSuchTableError:
            return None

    def stage(self, table: TableName, data: pa.RecordBatchReader, branch: str) -> StagedTable:
        arrow = data.read_all()
        self.catalog.create_namespace_if_not_exists(table.namespace)
        iceberg = self._table(table)
        if iceberg is None:
            iceberg = self.catalog.create_table(
                (table.namespace, table.name),
                schema=arrow.schema,
                location=self.location(table),
                properties=TABLE_PROPERTIES,
            )
            # Branches grow from a snapshot: give a new table an empty one on main, so that
            # main shows no rows until the first version is published.
            iceberg.append(arrow.schema.empty_table())
        try:
            # One commit: a failed write leaves the table's schema as it was.
            with iceberg.transaction() as transaction:
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
        found = self.staged(table, branch)
        assert found is not None, "a branch just written exists"
        return found

    def location(self, table: TableName) -> str:
        existing = self._table(table)
        if existing is not None:
            return existing.location()
        return (self.warehouse.resolve() / table.namespace / table.name).as_uri()

    def staged(self, table: TableName, branch: str) -> StagedTable | None:
        iceberg = self._table(table)
        if iceberg is None or branch not in iceberg.metadata.refs:
            return None
        snapshot_id = iceberg.metadata.refs[branch].snapshot_id
        snapshot = iceberg.snapshot_by_id(snapshot_id)
        summary = snapshot.summary if snapshot is not None else None
        return StagedTable(
            table=table,
            branch=branch,
            snapshot_id=snapshot_id,
            metadata_location=iceberg.metadata_location,
            location=iceberg.location(),
            rows=int(summary.get("total-records", 0)) if summary else 0,
            bytes=int(summary.get("total-files-size", 0)) if summary else 0,
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


def _has_rows(iceberg: Table) -> bool:
    snapshot = iceberg.current_snapshot()
    summary = snapshot.summary if snapshot is not None else None
    return bool(summary and int(summary.get("total-records", 0)))
