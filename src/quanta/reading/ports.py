"""Which published ports a read means: by address, the served ones, what a version read."""

from __future__ import annotations

from typing import Any

from quanta.errors import NotFound, UserError
from quanta.model.catalog import ProductRecord, Version
from quanta.model.names import PortAddress, ProductId, name_problem
from quanta.reading import PublishedPort
from quanta.sql_text import fold
from quanta.stores import CatalogStore


def product_record(store: CatalogStore, product_id: str) -> ProductRecord:
    try:
        parsed = str(ProductId.parse(product_id))
    except ValueError as error:
        raise UserError(str(error)) from None
    record = store.product(parsed)
    if record is None:
        raise NotFound(f"no product {product_id!r} is published: see quanta list")
    return record


def port_at(store: CatalogStore, address: str, version: int | None = None) -> PublishedPort:
    """The port ``address`` (``domain.product[.port]``) at ``version`` (None: served)."""
    try:
        parsed = PortAddress.parse(address)
    except ValueError as error:
        raise UserError(str(error)) from None
    record = product_record(store, str(parsed.product))
    found = store.version(record.id, version)
    if found is None:
        raise NotFound(f"{record.id} has no version {version}: see quanta show {record.id}")
    port = found.port(parsed.port)
    if port is None:
        names = ", ".join(f"{record.id}.{p.port}" for p in found.ports)
        raise NotFound(f"{address!r} names no single output port: use one of {names}")
    return PublishedPort(record.id, found.version, port, (tuple(address.split(".")),))


def _named_products(store: CatalogStore, named: set[tuple[str, ...]]) -> list[ProductRecord]:
    """The products ``named`` may address, looked up one by one (never the whole catalog):
    a product's id is lowercase, so a name that folds to it is the only one that can."""
    ids = sorted({f"{name[0]}.{name[1]}" for name in named if len(name) >= 2})
    records = []
    for product_id in ids:
        domain, name = product_id.split(".", 1)
        if name_problem(domain, "domain") or name_problem(name):
            continue  # no product can have it
        record = store.product(product_id)
        if record is not None:
            records.append(record)
    return records


def served_ports(
    store: CatalogStore, named: set[tuple[str, ...]] | None = None
) -> list[PublishedPort]:
    """The served version of every port, as a query addresses it: ``domain.product.port``,
    and ``domain.product`` for a product of one port.

    With ``named``, only the ports one of those names addresses.
    """
    found = []
    for record in store.products() if named is None else _named_products(store, named):
        version = store.version(record.id)
        if version is None:
            continue
        for port in version.ports:
            names: list[tuple[str, ...]] = [(record.domain, record.name, port.port)]
            if len(version.ports) == 1:
                names.insert(0, (record.domain, record.name))
            if named is not None and not {tuple(map(fold, n)) for n in names} & named:
                continue
            found.append(PublishedPort(record.id, version.version, port, tuple(names)))
    return found


def inputs_of(store: CatalogStore, version: Version) -> list[PublishedPort]:
    """The other products' ports a published version read, at the versions it read, each
    under the input port's name."""
    found = []
    for use in version.inputs:
        if use.upstream is None or use.upstream_version is None:
            continue
        upstream = store.version(use.upstream, use.upstream_version)
        port = upstream.port(use.upstream_port) if upstream else None
        if upstream is not None and port is not None:
            found.append(PublishedPort(use.upstream, upstream.version, port, ((use.port,),)))
    return found


def relations_named(sql: str) -> set[tuple[str, ...]] | None:
    """Every relation name ``sql`` mentions (folded as DuckDB compares them), or None when it
    does not parse (the guard then says why)."""
    from quanta.build.sql_parse import parse  # DuckDB's parser: loaded by queries only

    tree = parse(sql, "a query")
    if not isinstance(tree, dict):
        return None
    names: set[tuple[str, ...]] = set()
    pending: list[Any] = [tree]
    while pending:  # a stack: the tree may be deeper than Python's recursion
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            if value.get("type") == "BASE_TABLE":
                names.add(
                    tuple(
                        fold(str(value[key]))
                        for key in ("catalog_name", "schema_name", "table_name")
                        if value.get(key)
                    )
                )
            pending.extend(value.values())
    return names
