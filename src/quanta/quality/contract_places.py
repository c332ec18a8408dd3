"""Where in a contract file, as its author wrote it, a check's rule is declared.

A check knows its rule's place in the Quanta contract of one schema object
(``schema.0.properties.2.quality.0``). An ODCS v3 or DCS file names that place
differently: ``schema.<n>.properties.<m>.quality.0`` in ODCS, by the object's and the
column's positions, and ``models.<object>.fields.<column>.quality.0`` in DCS, by their
names. This maps one onto the other, and finds the line it is written at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quanta.model.contract import Contract
from quanta.validation.yaml_lines import LocatedYaml, Path

DCS_OPTIONS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "minLength"}
    | {"maxLength"}
)
"""Column options DCS writes on the field itself, where ODCS has ``logicalTypeOptions``."""


def place_in_file(
    located: LocatedYaml,
    table: str,
    contract: Contract,
    location: str,
    places: Mapping[tuple[str, str | None, int], str] | None = None,
) -> tuple[str, int | None]:
    """The dotted path in the file of what ``location`` names in ``table``'s contract, and
    its line (of the nearest part the file holds, when the import made the rule up: a DCS
    ``enum`` becomes a rule the file does not list). ``places``: where the import found
    the rules it moved (`quanta.interop.ContractImport.places`)."""
    if not location:
        return "", None
    parts: list[str | int] = [int(part) if part.isdigit() else part for part in location.split(".")]
    document = located.data if isinstance(located.data, Mapping) else {}
    if "dataContractSpecification" in document:
        path = _dcs(table, contract, parts, places or {})
    else:
        path = _odcs(document, table, contract, parts)
    return ".".join(str(part) for part in path), located.line_of(tuple(path))


def _column(contract: Contract, parts: list[str | int]) -> str | None:
    index = parts[3] if len(parts) > 3 else None
    if isinstance(index, int) and index < len(contract.columns):
        return contract.columns[index].name
    return None


def _odcs(
    document: Mapping[str, Any], table: str, contract: Contract, parts: list[str | int]
) -> Path:
    if parts[0] == "slaProperties":
        return _odcs_level(document, contract, parts)
    objects = document.get("schema") or []
    at = _index(objects, table)
    if at is None:
        return tuple(parts)
    path: list[str | int] = ["schema", at, *parts[2:]]
    column = _column(contract, parts)
    if column is not None:
        properties = objects[at].get("properties") or []
        found = _index(properties, column)
        if found is not None:
            path[3] = found
    return tuple(path)


def _odcs_level(document: Mapping[str, Any], contract: Contract, parts: list[str | int]) -> Path:
    """An ODCS service level: the file lists every object's; the contract only its own."""
    index = parts[1] if len(parts) > 1 else None
    if not isinstance(index, int) or index >= len(contract.sla_properties):
        return tuple(parts)
    level = contract.sla_properties[index]
    wanted = str(level.element or "")
    listed = [
        (at, item)
        for at, item in enumerate(document.get("slaProperties") or [])
        if isinstance(item, Mapping) and item.get("property") == level.property
    ]
    # The same element, else one that names it within its table (``orders.placed`` for
    # ``placed``): never one merely ending alike (``sub_orders.placed``).
    for at, item in listed:
        if str(item.get("element") or "") == wanted:
            return ("slaProperties", at, *parts[2:])
    for at, item in listed:
        if str(item.get("element") or "").endswith(f".{wanted}"):
            return ("slaProperties", at, *parts[2:])
    return tuple(parts)


def _dcs(
    table: str,
    contract: Contract,
    parts: list[str | int],
    places: Mapping[tuple[str, str | None, int], str],
) -> Path:
    if parts[0] == "slaProperties":
        index = parts[1] if len(parts) > 1 else None
        if isinstance(index, int) and index < len(contract.sla_properties):
            return ("servicelevels", contract.sla_properties[index].property)
        return ("servicelevels",)
    model: list[str | int] = ["models", table]
    if parts[2:3] == ["quality"]:
        return _moved(places, (table, None), parts[3:]) or (*model, *parts[2:])
    column = _column(contract, parts)
    if column is None:
        return tuple(model)
    rest = parts[4:]
    if rest[:1] == ["quality"]:
        moved = _moved(places, (table, column), rest[1:])
        if moved is not None:
            return moved
    if rest in (["physicalType"], ["logicalType"]):
        rest = ["type"]  # a DCS field has one type
    if rest[:1] == ["logicalTypeOptions"] and rest[1:2] and rest[1] in DCS_OPTIONS:
        rest = rest[1:]
    return (*model, "fields", column, *rest)


def _moved(
    places: Mapping[tuple[str, str | None, int], str],
    owner: tuple[str, str | None],
    rest: list[str | int],
) -> Path | None:
    """The file's place of an imported rule the import moved, with the rest of the path."""
    if not rest or not isinstance(rest[0], int):
        return None
    found = places.get((*owner, rest[0]))
    if found is None:
        return None
    return (*(int(p) if p.isdigit() else p for p in found.split(".")), *rest[1:])


def _index(items: Any, name: str) -> int | None:
    if not isinstance(items, list):
        return None
    for index, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("name") == name:
            return index
    return None
