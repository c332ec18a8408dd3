"""Shared concepts (polysemes), as data: where the mesh holds each kind of data subject,
under which identifiers, which ports map one identifier to another, and the joins that
compare columns meaning different things. Nothing here does I/O: `quanta.privacy` builds
them from the governance folder and the catalog.

A concept (``customer``) is defined in the governance folder with its identifier types
(``customer_id``, ``user_id``, ``email``). A column *carries* it when its contract names it
(``customProperties`` entry ``concept``), and holds one of its identifiers when it names
that too (``identifier``). A *mapping* is an output port whose rows say that the
identifiers in its columns denote the same subject (``customer.identity_map.accounts``
maps ``customer_id`` to ``user_id``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from quanta.model.governance import Identifier

MAX_HOPS = 4
"""The longest chain of mappings a join is told to go through."""


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class Meaning(_Data):
    """What a column's values are: subjects of ``concept``, as ``identifier`` (None: the
    column names the concept without identifying anyone, as a name or a birth date)."""

    concept: str
    identifier: str | None = None

    def __str__(self) -> str:
        return self.concept if self.identifier is None else f"{self.concept} {self.identifier}"


class Carrier(_Data):
    """An output column of a served version that carries a concept."""

    product: str
    port: str
    column: str
    identifier: str | None = None
    """The concept's identifier type its values are; None: it names the concept only."""


class MappedColumn(_Data):
    """One column of a mapping: the identifier its values are."""

    column: str
    concept: str
    identifier: str

    @property
    def meaning(self) -> Meaning:
        return Meaning(concept=self.concept, identifier=self.identifier)


class ConceptMapping(_Data):
    """An output port whose rows map identifiers to each other (the descriptor's
    ``mappings``), with what each of its columns identifies in the served contract. A
    column the contract gives no identifier is left out."""

    product: str
    port: str
    columns: tuple[MappedColumn, ...]

    @property
    def address(self) -> str:
        return f"{self.product}.{self.port}"

    @property
    def meanings(self) -> tuple[Meaning, ...]:
        return tuple(dict.fromkeys(column.meaning for column in self.columns))

    def maps(self, concept: str) -> bool:
        """Whether one of its columns is an identifier of ``concept``."""
        return any(column.concept == concept for column in self.columns)


class SharedConcept(_Data):
    """One concept: as the governance folder defines it, and where the mesh holds it."""

    name: str
    description: str = ""
    defined: bool = True
    """Whether the governance folder defines it; False for a concept that only served
    contracts name."""
    domains: tuple[str, ...] = ()
    """The domains that share its pseudonym scope."""
    identifiers: dict[str, Identifier] = Field(default_factory=dict)
    carriers: tuple[Carrier, ...] = ()
    mappings: tuple[ConceptMapping, ...] = ()
    """The mappings of which a column is one of its identifiers."""

    @property
    def undeclared(self) -> tuple[str, ...]:
        """Identifier types its carriers name that its definition does not list."""
        named = (carrier.identifier for carrier in self.carriers if carrier.identifier)
        return tuple(sorted({name for name in named if name not in self.identifiers}))


class ConceptMap(_Data):
    """Every concept of the mesh: those the governance folder defines, in its order, then
    those only served contracts name, by name."""

    concepts: tuple[SharedConcept, ...] = ()

    def concept(self, name: str) -> SharedConcept | None:
        return next((concept for concept in self.concepts if concept.name == name), None)

    @property
    def mappings(self) -> tuple[ConceptMapping, ...]:
        """Every mapping of the mesh, once."""
        found = {m.address: m for concept in self.concepts for m in concept.mappings}
        return tuple(found[address] for address in sorted(found))

    def route(self, start: Meaning, end: Meaning) -> tuple[ConceptMapping, ...]:
        """The shortest chain of mappings that leads from identifiers ``start`` to ``end``
        (at most `MAX_HOPS`); empty when none does. Among chains as short, the one
        through the narrowest mappings (fewest columns) comes first: a port that only
        maps identifiers, rather than one that maps them along the way."""
        return shortest_route(self.mappings, start, end)


def shortest_route(
    mappings: Iterable[ConceptMapping], start: Meaning, end: Meaning
) -> tuple[ConceptMapping, ...]:
    if start == end or start.identifier is None or end.identifier is None:
        return ()
    ordered = sorted(mappings, key=lambda m: (len(m.meanings), m.address))
    reached: dict[Meaning, tuple[ConceptMapping, ...]] = {start: ()}
    pending = deque([start])
    while pending:
        current = pending.popleft()
        path = reached[current]
        if len(path) >= MAX_HOPS:
            continue
        for mapping in ordered:
            meanings = mapping.meanings
            if current not in meanings:
                continue
            for meaning in meanings:
                if meaning in reached:
                    continue
                reached[meaning] = (*path, mapping)
                if meaning == end:
                    return reached[meaning]
                pending.append(meaning)
    return ()


class JoinedColumn(_Data):
    """One side of a join condition: the published column its values come from."""

    product: str
    port: str
    column: str
    meaning: Meaning

    @property
    def name(self) -> str:
        return f"{self.product}.{self.port}.{self.column}"

    def __str__(self) -> str:
        return f"{self.name} ({self.meaning})"


class JoinWarning(_Data):
    """A join condition (ON, USING, an equality in WHERE, IN a subquery) that compares
    columns of different concepts, or of one concept in different identifier types: its
    rows match by accident, or never."""

    left: JoinedColumn
    right: JoinedColumn
    line: int | None = None
    """The line of the SQL the condition is on, where the parser kept it."""
    through: tuple[str, ...] = ()
    """The mapping ports (``domain.product.port``) to join through instead, in order;
    empty when no mapping of the mesh leads from one identifier to the other."""

    @property
    def same_concept(self) -> bool:
        return self.left.meaning.concept == self.right.meaning.concept

    @property
    def message(self) -> str:
        left, right = self.left.meaning, self.right.meaning
        if self.same_concept:
            why = (
                f"two different identifiers of {left.concept}, whose values never match (or "
                "match the wrong subjects)"
            )
        else:
            why = (
                f"{left.concept} and {right.concept} are different concepts, whose values "
                "match only by accident"
            )
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.left} is compared with {self.right}: {why}"

    @property
    def hint(self) -> str:
        if self.through:
            return "join through " + ", then ".join(self.through)
        left, right = self.left.meaning, self.right.meaning
        if left.identifier is None or right.identifier is None:
            return "compare columns that identify the same thing"
        return (
            f"no port of the mesh maps {left.identifier} to {right.identifier}: compare "
            "columns of the same identifier, or publish a mapping (dataproduct.yaml "
            "customProperties: mappings)"
        )

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}"
