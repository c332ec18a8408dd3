"""What a product relies on of each product it reads: the columns its transformation reads."""

from __future__ import annotations

from collections.abc import Sequence

from quanta.model.catalog import InputUse
from quanta.model.product import DataProduct
from quanta.reading import PublishedPort


def relied_on(
    product: DataProduct, code: str, upstream: Sequence[PublishedPort]
) -> dict[str, list[str] | None]:
    """Per input port reading another product, the upstream columns the transformation
    reads, sorted; None where that is not known (a Python transformation that declares
    no ``reads``), which relies on every column.

    SQL is read through sqlglot (`columns_read`): every column it selects, filters, joins,
    groups or orders on. What sqlglot cannot follow relies on every column it reads."""
    declared = {port.name: port.reads for port in product.descriptor.input_ports}
    if product.transformation.language != "sql":
        return {port.names[0][0]: _sorted(declared.get(port.names[0][0])) for port in upstream}
    from quanta.build.lineage import columns_read

    spelled = {".".join(name): port for port in upstream for name in port.names}
    found = columns_read(
        code, {name: [c.name for c in port.port.columns] for name, port in spelled.items()}
    )
    reliance: dict[str, list[str] | None] = {port.names[0][0]: [] for port in upstream}
    for name, columns in found.columns.items():
        own = spelled[name].names[0][0]
        reliance[own] = sorted({*(reliance[own] or []), *columns})
    return reliance


def with_reliance(uses: Sequence[InputUse], reliance: dict[str, list[str] | None]) -> None:
    """Record each upstream input's reliance on its use (what the catalog keeps)."""
    for use in uses:
        if use.upstream is not None and use.port in reliance:
            use.columns = reliance[use.port]


def _sorted(columns: list[str] | None) -> list[str] | None:
    return None if columns is None else sorted(set(columns))
