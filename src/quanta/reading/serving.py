"""Serving consumers: SQL over the served products, and one port as a table. Both bind
through the read path, as the actor reading, and nothing else; each port read is told as
`PortServed` once its rows are served (usage metering counts it then, never before)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from quanta.build.sql_guard import check_sql
from quanta.errors import QueryRefused, UserError
from quanta.events import PortServed
from quanta.model.actor import Actor
from quanta.model.usage import ReadKind
from quanta.reading import PublishedPort
from quanta.reading.ports import port_at, relations_named, served_ports

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.context import MeshContext


def query(mesh: MeshContext, actor: Actor, sql: str, limit: int | None = None) -> pa.Table:
    """Run read-only SQL over the served version of the products it names (only those are
    bound: the SQL is parsed first)."""
    if limit is not None and limit < 0:
        raise UserError(f"the limit must be 0 or more, not {limit}")
    started = time.perf_counter()
    named = relations_named(sql)
    ports = served_ports(mesh.stores.catalog, named) if named else []
    visible = [name for port in ports for name in port.names]
    problems = check_sql(sql, visible, purpose="a query")
    if problems:
        raise QueryRefused("; ".join(f"{p.message} ({p.hint})" for p in problems))
    reader = actor.acting_for(actor.purpose or "query")
    bindings = mesh.reads.bind(reader, ports)
    mesh.lifecycle.warn(ports)
    with mesh.engine.session(bindings, limits=mesh.query_limits("a query")) as session:
        result = session.to_arrow(sql, limit=limit)
    _served(mesh, reader, ports, ReadKind.QUERY, result, started)
    return result


def read(mesh: MeshContext, actor: Actor, address: str, version: int | None = None) -> pa.Table:
    """One output port as an Arrow table: the served version, or a pinned one."""
    started = time.perf_counter()
    port = port_at(mesh.stores.catalog, address, version)
    reader = actor.acting_for(actor.purpose or "read")
    bindings = mesh.reads.bind(reader, [port])
    mesh.lifecycle.warn([port])
    limits = mesh.query_limits("reading a port", rows=False)
    with mesh.engine.session(bindings, limits=limits) as session:
        quoted = ".".join(f'"{part}"' for part in port.names[0])
        table = session.to_arrow(f"SELECT * FROM {quoted}")
    _served(mesh, reader, [port], ReadKind.READ, table, started)
    return table


def _served(
    mesh: MeshContext,
    actor: Actor,
    ports: Sequence[PublishedPort],
    kind: ReadKind,
    result: pa.Table,
    started: float,
) -> None:
    """Tell each port read as served: the rows and bytes of what its reader got."""
    seconds = round(time.perf_counter() - started, 3)
    for port in ports:
        mesh.events.emit(
            PortServed(
                subject=port.product,
                actor=actor,
                port=port.port.port,
                version=port.version,
                read=kind,
                rows=result.num_rows,
                bytes=result.nbytes,
                seconds=seconds,
            )
        )
