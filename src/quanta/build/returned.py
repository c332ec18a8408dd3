"""What a Python transformation returned, matched to the product's output ports.

Light on purpose (no pydantic, no engine): the build's own process imports it too.
"""

from __future__ import annotations

from quanta.engines import TransformationFailed
from quanta.model.names import told_names


def port_queries(
    queries: dict[str, str], ports: list[str], filename: str, function: str, code: str
) -> dict[str, str]:
    """Per output port, the query of the table the transformation returned for it: one
    table for a product of one port, else one per port, named (``code`` tells which names
    of unknown ports may be shown)."""
    if set(queries) == {""} and len(ports) == 1:
        return {ports[0]: queries[""]}
    missing = sorted(set(ports) - set(queries))
    extra = sorted(set(queries) - set(ports))
    if missing or extra:
        raise TransformationFailed(
            f"{filename}: {function}() must return one table per output "
            f"port ({', '.join(ports)}); missing: {missing or 'none'}, "
            f"unknown: {told_names(extra, code)}"
        )
    return queries
