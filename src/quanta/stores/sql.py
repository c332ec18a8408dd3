"""The catalog on SQLAlchemy: SQLite in the mesh home by default, PostgreSQL by URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from quanta.errors import PlatformError
from quanta.model.catalog import (
    CheckRecord,
    Downstream,
    InputUse,
    PortVersion,
    ProductRecord,
    SearchHit,
    Version,
)
from quanta.model.contract import PRIVATE
from quanta.stores import schema

# The newest migration; opening a catalog at this revision skips loading Alembic.
HEAD_REVISION = "0004"
MIGRATIONS = Path(__file__).parent / "migrations"


class SqlStore:
    name = "sql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except DBAPIError as error:
            raise PlatformError(
                f"the catalog at {self.engine.url.render_as_string()} cannot be opened: "
                f"{str(error.orig).strip()}"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    # -- schema --------------------------------------------------------------------------
    def revision(self) -> str | None:
        with self.engine.connect() as connection:
            try:
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
            except Exception:
                return None
        return None if row is None else str(row[0])

    def _migrate(self) -> None:
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    # -- reads ---------------------------------------------------------------------------
    def product(self, product_id: str) -> ProductRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(schema.products).where(schema.products.c.id == product_id)
            ).first()
        return None if row is None else _product(row._mapping)

    def products(self) -> list[ProductRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(schema.products).order_by(schema.products.c.id))
            return [_product(row._mapping) for row in rows]

    def version(self, product_id: str, version: int | None = None) -> Version | None:
        with self.engine.connect() as connection:
            if version is None:
                version = connection.execute(
                    select(schema.products.c.current_version).where(
                        schema.products.c.id == product_id
                    )
                ).scalar()
                if version is None:
                    return None
            found = _versions(connection, product_id, [version])
        return found[0] if found else None

    def versions(self, product_id: str) -> list[Version]:
        with self.engine.connect() as connection:
            numbers: list[int] = list(
                connection.execute(
                    select(schema.versions.c.version)
                    .where(schema.versions.c.product_id == product_id)
                    .order_by(schema.versions.c.version)
                ).scalars()
            )
            return _versions(connection, product_id, numbers)

    def latest_with_major(self, product_id: str, port: str, major: int) -> Version | None:
        with self.engine.connect() as connection:
            number = connection.execute(
                select(func.max(schema.ports.c.version)).where(
                    schema.ports.c.product_id == product_id,
                    schema.ports.c.port == port,
                    schema.ports.c.major == major,
                )
            ).scalar()
            if number is None:
                return None
            found = _versions(connection, product_id, [number])
        return found[0] if found else None

    def downstream(self, product_id: str) -> list[Downstream]:
        p, i = schema.products, schema.inputs
        query = (
            select(i.c.product_id, i.c.port, i.c.upstream_port, i.c.upstream_version)
            .join(p, (p.c.id == i.c.product_id) & (p.c.current_version == i.c.version))
            .where(i.c.upstream == product_id)
            .order_by(i.c.product_id, i.c.port)
        )
        with self.engine.connect() as connection:
            return [
                Downstream(
                    product=row[0], port=row[1], upstream_port=row[2], upstream_version=row[3]
                )
                for row in connection.execute(query)
            ]

    def table_users(self, table: str) -> list[tuple[str, str]]:
        o = schema.ports
        query = (
            select(o.c.product_id, o.c.port)
            .where(o.c.table_name == table)
            .distinct()
            .order_by(o.c.product_id, o.c.port)
        )
        with self.engine.connect() as connection:
            return [(row[0], row[1]) for row in connection.execute(query)]

    def search(self, text_query: str, limit: int = 20) -> list[SearchHit]:
        words = re.findall(r"\w+", text_query.lower())
        if not words:
            return []
        with self.engine.connect() as connection:
            if self.engine.dialect.name == "sqlite":
                match = " ".join(f'"{word}"*' for word in words)
                rows = connection.execute(
                    text(
                        "SELECT s.product_id, p.domain, p.owner, p.description, "
                        "snippet(product_search, -1, '[', ']', '…', 8) "
                        "FROM product_search s JOIN products p ON p.id = s.product_id "
                        "WHERE product_search MATCH :match ORDER BY rank LIMIT :limit"
                    ),
                    {"match": match, "limit": limit},
                )
            else:
                clauses = " AND ".join(
                    f"lower(s.name || ' ' || s.domain || ' ' || s.owner || ' ' || "
                    f"coalesce(s.description, '') || ' ' || s.columns || ' ' || s.tags) "
                    f"LIKE :w{index}"
                    for index in range(len(words))
                )
                rows = connection.execute(
                    text(
                        "SELECT s.product_id, p.domain, p.owner, p.description, '' "
                        "FROM product_search s JOIN products p ON p.id = s.product_id "
                        f"WHERE {clauses} ORDER BY s.product_id LIMIT :limit"
                    ),
                    {**{f"w{i}": f"%{w}%" for i, w in enumerate(words)}, "limit": limit},
                )
            return [
                SearchHit(product=r[0], domain=r[1], owner=r[2], description=r[3], matched=r[4])
                for r in rows
            ]

    def check_history(self, product_id: str, since: datetime) -> list[CheckRecord]:
        runs = schema.check_runs
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(runs)
                .where(runs.c.product_id == product_id, runs.c.checked_at >= _naive_utc(since))
                .order_by(runs.c.checked_at, runs.c.id)
            )
            return [
                CheckRecord(
                    product=row.product_id,
                    version=row.version,
                    checked_at=_aware(row.checked_at),
                    trigger=row.trigger,
                    outcome=row.outcome,
                    checks=row.checks,
                )
                for row in rows
            ]

    def record_checks(self, record: CheckRecord) -> None:
        with self.engine.begin() as connection:
            _insert_check_run(connection, record)

    # -- the one write ---------------------------------------------------------------------
    def publish(self, record: ProductRecord, version: Version) -> int:
        now = _naive_utc(datetime.now(UTC))
        with self.engine.begin() as connection:
            number = (
                connection.execute(
                    select(func.max(schema.versions.c.version)).where(
                        schema.versions.c.product_id == record.id
                    )
                ).scalar()
                or 0
            ) + 1
            connection.execute(
                insert(schema.versions).values(
                    product_id=record.id,
                    version=number,
                    published_at=_naive_utc(version.published_at),
                    seconds=version.seconds,
                    checks=version.checks,
                )
            )
            for port in version.ports:
                connection.execute(
                    insert(schema.ports).values(
                        product_id=record.id,
                        version=number,
                        major=port.major,
                        table_name=port.table,
                        **port.model_dump(
                            include={
                                "port",
                                "contract_version",
                                "snapshot_id",
                                "metadata_location",
                                "location",
                                "rows",
                                "bytes",
                                "description",
                                "contract",
                            }
                        ),
                        columns=[column.model_dump() for column in port.columns],
                        files=port.files,
                        stats=port.stats.model_dump() if port.stats else None,
                    )
                )
                _forget_private_bounds(connection, record.id, port)
            for used in version.inputs:
                connection.execute(
                    insert(schema.inputs).values(
                        product_id=record.id, version=number, **used.model_dump()
                    )
                )
            values = record.model_dump(exclude={"current_version", "updated_at", "id"})
            values.update(current_version=number, updated_at=now)
            exists = connection.execute(
                select(schema.products.c.id).where(schema.products.c.id == record.id)
            ).first()
            if exists:
                connection.execute(
                    update(schema.products).where(schema.products.c.id == record.id).values(values)
                )
            else:
                connection.execute(
                    insert(schema.products).values(id=record.id, created_at=now, **values)
                )
            _index_for_search(connection, record, version)
            if version.checks:
                _insert_check_run(
                    connection,
                    CheckRecord(
                        product=record.id,
                        version=number,
                        checked_at=version.published_at,
                        trigger="publish",
                        outcome=version.outcome,
                        checks=version.checks,
                    ),
                )
        return number


def _forget_private_bounds(connection: Connection, product_id: str, port: PortVersion) -> None:
    """Drop, from the port's earlier versions, the bounds of columns now classified private.

    An earlier version kept them while the column was not private yet: the same column's
    values, which the catalog must not keep once it is.
    """
    private = {
        column.name for column in port.columns if (column.classification or "").lower() in PRIVATE
    }
    if not private:
        return
    ports = schema.ports
    rows = connection.execute(
        select(ports.c.version, ports.c.stats).where(
            (ports.c.product_id == product_id) & (ports.c.port == port.port)
        )
    ).fetchall()
    for number, stored in rows:
        stats: dict[str, Any] = stored if isinstance(stored, dict) else {}
        columns: dict[str, Any] = stats.get("columns") or {}
        changed = False
        for name in private & set(columns):
            if columns[name].get("lower") is not None or columns[name].get("upper") is not None:
                columns[name]["lower"] = columns[name]["upper"] = None
                changed = True
        if changed:
            connection.execute(
                update(ports)
                .where(
                    (ports.c.product_id == product_id)
                    & (ports.c.version == number)
                    & (ports.c.port == port.port)
                )
                .values(stats=stats)
            )


def _insert_check_run(connection: Connection, record: CheckRecord) -> None:
    connection.execute(
        insert(schema.check_runs).values(
            product_id=record.product,
            version=record.version,
            checked_at=_naive_utc(record.checked_at),
            trigger=record.trigger,
            outcome=record.outcome,
            checks=record.checks,
        )
    )


def _index_for_search(connection: Connection, record: ProductRecord, version: Version) -> None:
    columns = " ".join(
        " ".join(filter(None, (column.name, column.description, column.classification)))
        for port in version.ports
        for column in port.columns
    )
    connection.execute(text("DELETE FROM product_search WHERE product_id = :id"), {"id": record.id})
    connection.execute(
        text(
            "INSERT INTO product_search"
            " (product_id, name, domain, owner, description, columns, tags)"
            " VALUES (:id, :name, :domain, :owner, :description, :columns, :tags)"
        ),
        {
            "id": record.id,
            "name": f"{record.id} {record.name} {record.title or ''}",
            "domain": record.domain,
            "owner": f"{record.owner} {record.contact}",
            "description": record.description or "",
            "columns": columns,
            "tags": " ".join(record.tags),
        },
    )


def _versions(connection: Connection, product_id: str, numbers: list[int]) -> list[Version]:
    if not numbers:
        return []
    v, p, i = schema.versions, schema.ports, schema.inputs
    rows = connection.execute(
        select(v)
        .where(v.c.product_id == product_id, v.c.version.in_(numbers))
        .order_by(v.c.version)
    ).all()
    port_rows = connection.execute(
        select(p).where(p.c.product_id == product_id, p.c.version.in_(numbers)).order_by(p.c.port)
    ).all()
    input_rows = connection.execute(
        select(i).where(i.c.product_id == product_id, i.c.version.in_(numbers)).order_by(i.c.port)
    ).all()
    result = []
    for row in rows:
        number = row.version
        result.append(
            Version(
                product=product_id,
                version=number,
                published_at=_aware(row.published_at),
                seconds=row.seconds,
                checks=row.checks,
                ports=[
                    PortVersion(table=r.table_name, **_without(r._mapping, "table_name"))
                    for r in port_rows
                    if r.version == number
                ],
                inputs=[
                    InputUse(**_without(r._mapping, "product_id", "version"))
                    for r in input_rows
                    if r.version == number
                ],
            )
        )
    return result


def _without(mapping: Any, *names: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in names}


def _product(row: Any) -> ProductRecord:
    values = _without(row, "created_at")
    values["updated_at"] = _aware(values["updated_at"])
    return ProductRecord(**values)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a publish commits; a killed writer leaves no trace.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
