"""Inherited classification: a product built from classified inputs keeps their protection.

An output column derived from a ``pii`` column of an input is at least ``pii``, whatever its
own contract declares (`quanta.build.lineage` follows a SQL transformation's columns). The
catalog records, and the read path protects, the stricter of the two. A Python
transformation cannot be followed: each of its output columns inherits the strictest level
of every input column it may read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quanta.model.contract import CLASSIFICATIONS, Contract
from quanta.reading import PublishedPort


def _rank(level: str | None) -> int:
    level = (level or "").lower()
    return CLASSIFICATIONS.index(level) if level in CLASSIFICATIONS else -1


def inherited(
    language: str,
    code: str,
    contracts: Mapping[str, Contract],
    upstream: Sequence[PublishedPort],
) -> dict[str, dict[str, tuple[str, str]]]:
    """Per output port, the columns whose inputs are classified stricter than the column
    itself: ``{port: {column: (level, what it derives it from)}}``."""
    levels = {
        ".".join(name): {column.name: column.classification for column in port.port.columns}
        for port in upstream
        for name in port.names
    }
    if not any(level for columns in levels.values() for level in columns.values()):
        return {}
    found: dict[str, dict[str, tuple[str, str]]] = {}
    if language == "sql":
        from quanta.build.lineage import column_sources

        (port, contract), *_ = contracts.items()
        sources = column_sources(code, {name: list(columns) for name, columns in levels.items()})
        for column in contract.columns:
            strictest, origin = _rank(column.classification), ""
            for name, source in sorted(sources.of(column.name)):
                level = levels.get(name, {}).get(source)
                if _rank(level) > strictest:
                    strictest, origin = _rank(level), f"{name}.{source}"
            if origin:
                found.setdefault(port, {})[column.name] = (CLASSIFICATIONS[strictest], origin)
        return found
    # Python: any output column may hold any input value.
    ranked = [
        (_rank(level), f"{name}.{column}")
        for name, columns in levels.items()
        for column, level in columns.items()
    ]
    top, origin = max(ranked)
    for port, contract in contracts.items():
        for column in contract.columns:
            if top > _rank(column.classification):
                found.setdefault(port, {})[column.name] = (CLASSIFICATIONS[top], origin)
    return found


def raised(contract: Contract, levels: Mapping[str, tuple[str, str]]) -> Contract:
    """``contract`` with each of ``levels``' columns classified at its inherited level."""
    if not levels:
        return contract
    table = contract.table
    columns = [
        column.model_copy(update={"classification": levels[column.name][0]})
        if column.name in levels
        else column
        for column in table.properties
    ]
    return contract.model_copy(
        update={"schema_": [table.model_copy(update={"properties": columns})]}
    )
