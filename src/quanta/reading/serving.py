"""Serving consumers: SQL over the served products, and one port as a table. Both bind
through the read path, as the actor reading, and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quanta.build.sql_guard import check_sql
from quanta.errors import QueryRefused, UserError
from quanta.model.actor import Actor
from quanta.reading.ports import port_at, relations_named, served_ports

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.context import MeshContext


def query(mesh: MeshContext, actor: Actor, sql: str, limit: int | None = None) -> pa.Table:
    """Run read-only SQL over the served version of the products it names (only those are
    bound: the SQL is parsed first)."""
    if limit is not None and limit < 0:
        raise UserError(f"the limit must be 0 or more, not {limit}")
    named = relations_named(sql)
    ports = served_ports(mesh.stores.catalog, named) if named else []
    visible = [name for port in ports for name in port.names]
    problems = check_sql(sql, visible, purpose="a query")
    if problems:
        raise QueryRefused("; ".join(f"{p.message} ({p.hint})" for p in problems))
    bindings = mesh.reads.bind(actor.acting_for(actor.purpose or "query"), ports)
    with mesh.engine.session(bindings, limits=mesh.query_limits("a query")) as session:
        return session.to_arrow(sql, limit=limit)


def read(mesh: MeshContext, actor: Actor, address: str, version: int | None = None) -> pa.Table:
    """One output port as an Arrow table: the served version, or a pinned one."""
    port = port_at(mesh.stores.catalog, address, version)
    bindings = mesh.reads.bind(actor.acting_for(actor.purpose or "read"), [port])
    limits = mesh.query_limits("reading a port", rows=False)
    with mesh.engine.session(bindings, limits=limits) as session:
        quoted = ".".join(f'"{part}"' for part in port.names[0])
        return session.to_arrow(f"SELECT * FROM {quoted}")
