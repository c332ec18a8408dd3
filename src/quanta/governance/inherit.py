"""What a product's columns inherit from the input columns they derive from.

- **Classification.** An output column derived from a ``pii`` column of an input is at
  least ``pii``, whatever its own contract declares (`quanta.build.lineage` follows a SQL
  transformation's columns; each column of a Python transformation may hold any input
  value, so it inherits from every input column). The catalog records, and the read path
  protects, the stricter of the two; a column declared ``restricted`` stays so (owners
  only is stricter than any grant).
- **Pseudonym scope.** A pseudonym is keyed per *scope*: the column a value first entered
  the mesh through, or the concept it names where the governance folder shares that
  concept's scope with the product's domain (`GovernanceFile.shared_scope`). A column
  keeps its one private source's scope only when its build read that source in clear:
  then its values are that source's values (or its owners' choice), and joins on their
  pseudonyms match. Anything else gets a scope of its own, so that nobody can have the
  platform compute, under another product's scope, the pseudonyms of values they chose:
  that would let them look up the clear values behind that product's pseudonyms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from quanta.model.catalog import ColumnInfo
from quanta.model.contract import CLASSIFICATIONS, PRIVATE, Contract
from quanta.reading import PublishedPort

STRICTNESS = ("public", "internal", "confidential", "pii", "pii-sensitive", "restricted")
"""Levels from least to most strict, as inheritance raises them: ``restricted`` (owners
only) is stricter than what a grant may read in clear."""


def _rank(level: str | None) -> int:
    level = (level or "").lower()
    return STRICTNESS.index(level) if level in STRICTNESS else -1


@dataclass
class Inherited:
    """What the columns of each output port inherit."""

    levels: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    """``{port: {column: (level, the input column it is inherited from)}}``, only where
    stricter than declared."""
    scopes: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{port: {column: scope}}`` of every private column (after inheritance)."""
    identifiers: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    """``{port: {column: (concept, identifier)}}`` of each column that names no concept
    and is a copy of input columns that are all that one identifier (SQL lineage): its
    values identify as theirs do, and erasure finds them there."""
    pseudonyms: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{port: {column: scope}}`` of each column that is a copy of private input columns
    its build read as their pseudonyms (no grant in clear, or encrypted): its values are
    pseudonyms of that scope, which erasure computes for the subject's identifiers."""


def inherited(
    product: str,
    language: str,
    code: str,
    contracts: Mapping[str, Contract],
    upstream: Sequence[PublishedPort],
    read_in_clear: Callable[[PublishedPort], bool],
    shared_scope: Callable[[str | None, str], str | None] = lambda concept, domain: None,
) -> Inherited:
    """The levels and pseudonym scopes of ``product``'s output columns, from what each
    derives from among the ``upstream`` ports (``read_in_clear``: whether the build reads
    that port's PII in clear; ``shared_scope``: the scope the governance folder shares for
    a concept in a domain, `GovernanceFile.shared_scope`)."""
    ports = {".".join(name).lower(): port for port in upstream for name in port.names}
    columns_of = {
        name: {column.name: column for column in port.port.columns} for name, port in ports.items()
    }
    sources, copies = _sources(language, code, contracts, columns_of)
    found = Inherited()
    found.identifiers = _identifiers(contracts, copies, ports)
    for port, contract in contracts.items():
        for column in contract.columns:
            derived = sorted(sources.get(port, {}).get(column.name, ()))
            level, origin = _rank(column.classification), ""
            scopes: set[tuple[str, bool]] = set()  # each private source: (scope, in clear)
            for name, source in derived:
                info = columns_of.get(name.lower(), {}).get(source)
                if info is None:
                    continue
                if _rank(info.classification) > level and column.classification != "restricted":
                    level, origin = _rank(info.classification), f"{name}.{source}"
                if (info.classification or "").lower() in PRIVATE:
                    read = ports[name.lower()]
                    # A build never decrypts: it reads an encrypted column as its pseudonym.
                    clear = info.encrypted is None and read_in_clear(read)
                    scopes.add((info.scope or f"{read.address}.{source}", clear))
            pseudonymized = _pseudonymized(
                copies.get(port, {}).get(column.name, set()), ports, columns_of, read_in_clear
            )
            if pseudonymized is not None:
                found.pseudonyms.setdefault(port, {})[column.name] = pseudonymized
            if origin:
                found.levels.setdefault(port, {})[column.name] = (STRICTNESS[level], origin)
            final = STRICTNESS[level] if level >= 0 else column.classification
            if (final or "").lower() in PRIVATE:
                domain = product.split(".")[0]
                scope = shared_scope(column.concept, domain) or f"{product}.{port}.{column.name}"
                if len(scopes) == 1:
                    [(theirs, clear)] = scopes
                    scope = theirs if clear else scope
                found.scopes.setdefault(port, {})[column.name] = scope
    return found


def _pseudonymized(
    copied: set[tuple[str, str]],
    ports: Mapping[str, PublishedPort],
    columns_of: Mapping[str, Mapping[str, ColumnInfo]],
    read_in_clear: Callable[[PublishedPort], bool],
) -> str | None:
    """The scope whose pseudonyms a column holds: when it copies private columns of one
    scope, each read as its pseudonyms (the build reads no grant in clear, or the column is
    encrypted); else None."""
    scopes = set()
    for name, source in copied:
        info = columns_of.get(name.lower(), {}).get(source)
        read = ports.get(name.lower())
        if info is None or read is None or (info.classification or "").lower() not in PRIVATE:
            return None
        if info.encrypted is None and read_in_clear(read):
            return None  # its values in clear
        scopes.add(info.scope or f"{read.address}.{source}")
    return scopes.pop() if len(scopes) == 1 else None


Sources = dict[str, dict[str, set[tuple[str, str]]]]
"""Per output port and column, (input name, column) pairs."""


def _sources(
    language: str,
    code: str,
    contracts: Mapping[str, Contract],
    columns_of: Mapping[str, Mapping[str, object]],
) -> tuple[Sources, Sources]:
    """Per output port and column, the (input name, column) pairs it derives from, and
    those it is a copy of (SQL only: a Python transformation's columns may hold anything)."""
    if not columns_of:
        return {}, {}
    if language == "sql":
        from quanta.build.lineage import column_sources

        (port, contract), *_ = contracts.items()
        lineage = column_sources(code, {name: list(cols) for name, cols in columns_of.items()})
        derived = {port: {c.name: set(lineage.of(c.name)) for c in contract.columns}}
        copied = {port: {c.name: set(lineage.copy_of(c.name)) for c in contract.columns}}
        return derived, copied
    everything = {(name, column) for name, cols in columns_of.items() for column in cols}
    derived = {
        port: {column.name: everything for column in contract.columns}
        for port, contract in contracts.items()
    }
    return derived, {}


def _identifiers(
    contracts: Mapping[str, Contract],
    copies: Sources,
    ports: Mapping[str, PublishedPort],
) -> dict[str, dict[str, tuple[str, str]]]:
    """The identifier each undeclared column copies, where all it copies is that one."""
    from quanta.privacy.concepts import port_meanings

    meanings = {name: port_meanings(port.port) for name, port in ports.items()}
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for port, contract in contracts.items():
        for column in contract.columns:
            copied = copies.get(port, {}).get(column.name)
            if column.concept is not None or not copied:
                continue
            kinds = set()
            for name, source in copied:
                meaning = meanings.get(name.lower(), {}).get(source)
                if meaning is None or meaning.identifier is None:
                    break
                kinds.add((meaning.concept, meaning.identifier))
            else:
                if len(kinds) == 1:
                    found.setdefault(port, {})[column.name] = kinds.pop()
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
    schema = [table.model_copy(update={"properties": columns})]
    return contract.model_copy(update={"schema_": schema})


assert set(STRICTNESS) == set(CLASSIFICATIONS), "every level has its place"
