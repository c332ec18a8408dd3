"""The shared concepts of the mesh: `concept_map` lists them, from the governance folder's
definitions and the served versions in the catalog; `check_concepts` tells a product
folder being validated what it declares wrong about them.

What a folder is told, each an issue at the field it is about:

- a column that names an ``identifier`` but no ``concept``;
- when the governance folder defines concepts: a ``concept`` it does not define; an
  identifier that its concept does not list; a column of another logical type than its
  identifier's. A mesh whose folder defines none has not adopted them: nothing to check
  names against;
- a mapping that names a port that is not an output port, or a column that is not in the
  port's contract, names one twice, or declares no identifier.

Every one blocks, an undefined concept too: a misspelt one (``customers``) silently leaves
the column out of its concept's shared pseudonym scope, out of what erasure finds and out
of the join warnings. A team naming a subject the federation has not defined yet still
publishes, by leaving the entry out until it is defined (the ``pii-concept`` policy then
warns, no more).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.model.concepts import (
    Carrier,
    ConceptMap,
    ConceptMapping,
    MappedColumn,
    Meaning,
    SharedConcept,
)
from quanta.model.contract import Contract
from quanta.model.product import Mapping as PortMapping
from quanta.model.product import custom_property
from quanta.model.result import Issue

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.model.catalog import PortVersion, ProductRecord, Version
    from quanta.model.contract import Column
    from quanta.model.governance import Concept
    from quanta.model.product import DataProduct
    from quanta.model.result import Validation
    from quanta.validation.folder import LoadedFolder
    from quanta.validation.yaml_lines import LocatedYaml

__all__ = [
    "ConceptProblem",
    "check_concepts",
    "concept_map",
    "concept_problems",
    "mapped",
    "port_meanings",
    "stored_mappings",
]

Loc = tuple[str | int, ...]


# -- the listing ------------------------------------------------------------------------------


def concept_map(context: MeshContext) -> ConceptMap:
    """Every concept: those the governance folder defines, and those only served contracts
    name; each with its identifiers, the served columns that carry it and the mappings."""
    catalog = context.stores.catalog
    served = []
    for record in catalog.products():
        version = catalog.version(record.id)
        if version is not None:
            served.append((record, version))
    return mapped(context.governance.rules.config.concepts, served)


def mapped(
    defined: Mapping[str, Concept], served: Iterable[tuple[ProductRecord, Version]]
) -> ConceptMap:
    """The concept map of the ``defined`` concepts over the ``served`` versions."""
    carriers: dict[str, list[Carrier]] = {}
    mappings: list[ConceptMapping] = []
    for record, version in served:
        meanings = {port.port: port_meanings(port) for port in version.ports}
        for port in version.ports:
            for column, meaning in meanings[port.port].items():
                if meaning is not None:
                    carriers.setdefault(meaning.concept, []).append(
                        Carrier(
                            product=record.id,
                            port=port.port,
                            column=column,
                            identifier=meaning.identifier,
                        )
                    )
        for mapping in stored_mappings(record.descriptor):
            columns = meanings.get(mapping.port)
            if columns is None:
                continue  # not a port of the served version
            identified = tuple(
                MappedColumn(column=name, concept=meaning.concept, identifier=meaning.identifier)
                for name in dict.fromkeys(mapping.columns)
                if (meaning := columns.get(name)) is not None and meaning.identifier is not None
            )
            if identified:
                mappings.append(
                    ConceptMapping(product=record.id, port=mapping.port, columns=identified)
                )
    names = [*defined, *sorted(set(carriers) - set(defined))]
    concepts = []
    for name in names:
        definition = defined.get(name)
        concepts.append(
            SharedConcept(
                name=name,
                description=definition.description if definition else "",
                defined=definition is not None,
                domains=tuple(definition.domains) if definition else (),
                identifiers=dict(definition.identifiers) if definition else {},
                carriers=tuple(carriers.get(name, ())),
                mappings=tuple(mapping for mapping in mappings if mapping.maps(name)),
            )
        )
    return ConceptMap(concepts=tuple(concepts))


def port_meanings(port: PortVersion) -> dict[str, Meaning | None]:
    """Every column of a served port, in order, with what its values are as its contract
    says (None: it names no concept)."""
    copies = {column.name: column.copies for column in port.columns if column.copies}
    try:
        contract = Contract.model_validate(port.contract)
    except ValueError:  # a contract that no longer reads as one: its columns, unjudged
        return {column.name: _copied(copies.get(column.name)) for column in port.columns}
    return {
        column.name: _copied(copies.get(column.name))
        if column.concept is None
        else Meaning(concept=column.concept, identifier=column.identifier)
        for column in contract.columns
    }


def _copied(identifier: str | None) -> Meaning | None:
    """The meaning of a column that copies ``concept.identifier`` without naming it."""
    if identifier is None:
        return None
    concept, _, name = identifier.partition(".")
    return Meaning(concept=concept, identifier=name)


def stored_mappings(descriptor: Mapping[str, Any]) -> tuple[PortMapping, ...]:
    """The mappings of a descriptor as the catalog stores it (each was checked as it was
    published; one that no longer reads as a mapping is left out)."""
    found = []
    for item in _list(descriptor.get("customProperties")):
        if isinstance(item, dict) and item.get("property") == "mappings":
            for value in _list(item.get("value")):
                try:
                    found.append(PortMapping.model_validate(value))
                except ValueError:
                    continue
            break
    return tuple(found)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- what a folder declares wrong -------------------------------------------------------------


@dataclass(frozen=True)
class ConceptProblem:
    """One thing a product folder declares wrong about concepts."""

    port: str | None
    """The output port whose contract it is in; None: it is in ``dataproduct.yaml``."""
    loc: Loc
    message: str
    hint: str
    value: str | None = None


def check_concepts(
    concepts: Mapping[str, Concept], folder: LoadedFolder, validation: Validation
) -> None:
    """Add the issues of ``folder``'s product about the governance folder's ``concepts``."""
    product = folder.product
    if product is None:
        return
    located: dict[str, LocatedYaml | None] = {}
    for problem in concept_problems(concepts, product):
        if problem.port is None:
            issue = folder.issue_at(problem.loc, problem.message, problem.hint)
        else:
            issue = _contract_issue(product, problem, located)
        validation.issues.append(issue)


def concept_problems(concepts: Mapping[str, Concept], product: DataProduct) -> list[ConceptProblem]:
    """What ``product`` declares wrong about ``concepts`` (the governance folder's), in the
    order of its files: the contracts' columns, then the descriptor's mappings."""
    problems: list[ConceptProblem] = []
    for output in product.descriptor.output_ports:
        contract = product.contracts.get(output.name)
        if contract is None:
            continue
        for index, column in enumerate(contract.columns):
            problems.extend(_column_problems(concepts, output.name, index, column))
    problems.extend(_mapping_problems(product))
    return problems


def _column_problems(
    concepts: Mapping[str, Concept], port: str, index: int, column: Column
) -> list[ConceptProblem]:
    concept, identifier = column.concept, column.identifier
    where: Loc = ("schema", 0, "properties", index, "customProperties")
    at_concept = (*where, _entry(column, "concept"), "value")
    at_identifier = (*where, _entry(column, "identifier"), "value")
    named = f"column {column.name} of port {port}"
    if identifier is not None and concept is None:
        having = [name for name, c in concepts.items() if identifier in c.identifiers]
        if having:
            hint = f"write {{property: concept, value: {having[0]}}} beside it" + (
                f" (or one of {', '.join(having[1:])}, which have it too)" if having[1:] else ""
            )
        else:
            hint = "write {property: concept, value: ...} beside it, naming whose identifier it is"
        message = f"{named} names identifier {identifier} but no concept"
        return [ConceptProblem(port, at_identifier, message, hint, identifier)]
    if concept is None or not concepts:
        return []
    definition = concepts.get(concept)
    if definition is None:
        hint = (
            f"use one of the concepts it defines: {', '.join(concepts)}{_close(concept, concepts)}"
        )
        return [
            ConceptProblem(
                port,
                at_concept,
                f"{named} names concept {concept}, which the governance folder does not define",
                f"{hint}; or leave the entry out until the governance group defines it",
                concept,
            )
        ]
    if identifier is None:
        return []
    known = definition.identifiers.get(identifier)
    if known is None:
        listed = ", ".join(definition.identifiers)
        hint = (
            f"use one of its identifiers: {listed}{_close(identifier, definition.identifiers)}"
            if listed
            else f"the governance folder lists no identifier of {concept} yet"
        )
        return [
            ConceptProblem(
                port,
                at_identifier,
                f"{named} names identifier {identifier}, which concept {concept} does not have "
                "in the governance folder",
                f"{hint}; or ask the governance group to add it",
                identifier,
            )
        ]
    if column.logical_type != known.type:
        return [
            ConceptProblem(
                port,
                ("schema", 0, "properties", index, "logicalType"),
                f"{named} is {column.logical_type}, but identifier {identifier} of {concept} "
                f"is {known.type}: its values would never match the other {identifier} columns",
                f"write logicalType: {known.type}",
                column.logical_type,
            )
        ]
    return []


def _mapping_problems(product: DataProduct) -> list[ConceptProblem]:
    descriptor = product.descriptor
    found = custom_property(descriptor.custom_properties, "mappings")
    if found is None:
        return []
    entry = found[0]
    ports = [port.name for port in descriptor.output_ports]
    problems: list[ConceptProblem] = []
    for index, mapping in enumerate(descriptor.mappings):
        where: Loc = ("customProperties", entry, "value", index)
        contract = product.contracts.get(mapping.port) if mapping.port in ports else None
        if contract is None:
            problems.append(
                ConceptProblem(
                    None,
                    (*where, "port"),
                    f"mapping {index + 1} names port {mapping.port}, which is not an output "
                    f"port of {product.id}",
                    f"name one of its output ports: {', '.join(ports)}"
                    + _close(mapping.port, ports),
                )
            )
            continue
        columns = [column.name for column in contract.columns]
        seen: set[str] = set()
        for position, name in enumerate(mapping.columns):
            at = (*where, "columns", position)
            column = contract.column(name)
            if name in seen:
                problem = (
                    f"mapping {index + 1} names column {name} twice",
                    "name each column once",
                )
            elif column is None:
                problem = (
                    f"mapping {index + 1} names column {name}, which is not in the contract "
                    f"of port {mapping.port}",
                    f"name one of its columns: {', '.join(columns)}{_close(name, columns)}",
                )
            elif column.identifier is None or column.concept is None:
                problem = (
                    f"mapping {index + 1} names column {name} of port {mapping.port}, which "
                    "declares no identifier: a mapping maps identifiers",
                    f"in {product.contract_files.get(mapping.port, 'its contract')}, write "
                    "customProperties: [{property: concept, value: ...}, {property: "
                    "identifier, value: ...}] on the column, or leave it out of the mapping",
                )
            else:
                problem = None
            seen.add(name)
            if problem is not None:
                problems.append(ConceptProblem(None, at, *problem))
    return problems


def _entry(column: Column, name: str) -> int:
    """Where ``name`` is in the column's ``customProperties``."""
    for index, item in enumerate((column.model_extra or {}).get("customProperties") or []):
        if isinstance(item, dict) and item.get("property") == name:
            return index
    return 0


def _close(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _contract_issue(
    product: DataProduct, problem: ConceptProblem, located: dict[str, LocatedYaml | None]
) -> Issue:
    """An issue in a port's contract file, with the line of its field when the file still
    reads as it was validated."""
    from quanta.validation.yaml_models import dotted

    port = problem.port or ""
    label = product.contract_files.get(port, f"contracts of port {port}")
    if port not in located:
        located[port] = _located(product, label)
    found = located[port]
    return Issue(
        file=label,
        line=found.line_of(problem.loc) if found is not None else None,
        field=dotted(problem.loc),
        value=problem.value,
        message=problem.message,
        hint=problem.hint,
    )


def _located(product: DataProduct, label: str) -> LocatedYaml | None:
    """The contract file's parts and lines, read again from inside the product folder (the
    model keeps no lines); None when it cannot be."""
    from quanta.product_files import OutsideFolder, read_inside
    from quanta.validation.yaml_lines import YamlProblem, load_located

    folder = Path(product.folder)
    try:
        relative = Path(label).resolve().relative_to(folder.resolve())
        return load_located(read_inside(folder, str(relative)))
    except (OSError, ValueError, OutsideFolder, YamlProblem):
        return None
