"""``quanta concepts``: the mesh's shared concepts, and how join warnings look.

Concept names, descriptions, identifiers, products, ports and columns are the teams'
words: each goes through `shown`, so it prints as typed on any console.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from quanta.cli import HomeOption, JsonOption, _mesh

if TYPE_CHECKING:
    from rich.console import Console

    from quanta.model.concepts import ConceptMap, ConceptMapping, JoinWarning, SharedConcept

__all__ = ["concepts", "print_join_warnings", "render_concepts"]


def concepts(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Show the shared concepts: identifiers, the columns that carry them, mappings."""
    from quanta.cli.output import print_json

    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.concepts()
    if as_json:
        print_json(found)
        return
    render_concepts(found)


def render_concepts(found: ConceptMap, console: Console | None = None) -> None:
    """Each concept: what it is, its identifiers (with how many served columns hold each),
    the columns that carry it, and the ports that map its identifiers."""
    from rich.text import Text

    from quanta.cli import output

    console = console or output.console
    if not found.concepts:
        console.print(
            "No concept is defined or named: define them in the governance folder "
            "(governance.yaml, concepts:) and name them in contracts (customProperties: "
            "concept, identifier)."
        )
        return
    for index, concept in enumerate(found.concepts):
        if index:
            console.print()
        heading = Text.assemble(output.shown(concept.name, "bold"))
        if concept.description:
            heading.append_text(Text.assemble(": ", output.shown(concept.description)))
        if not concept.defined:
            heading.append("  (not defined in the governance folder)", style="yellow")
        console.print(heading)
        if concept.domains:
            shared = ", ".join(concept.domains)
            console.print(Text.assemble("pseudonyms shared by the domains ", output.shown(shared)))
        _identifiers(console, concept)
        _carriers(console, concept)
        _mappings(console, concept)


def _identifiers(console: Console, concept: SharedConcept) -> None:
    from rich.table import Table
    from rich.text import Text

    from quanta.cli.output import shown

    if not concept.identifiers and not concept.undeclared:
        return
    table = Table("identifier", "type", "description", title="identifiers", title_justify="left")
    table.add_column("columns", justify="right")
    for name, identifier in concept.identifiers.items():
        table.add_row(
            shown(name),
            identifier.type,
            shown(identifier.description),
            str(_held(concept, name)),
        )
    for name in concept.undeclared:
        table.add_row(
            shown(name, "yellow"),
            "",
            Text("not in the governance folder", style="yellow"),
            str(_held(concept, name)),
        )
    console.print(table)


def _held(concept: SharedConcept, identifier: str) -> int:
    return sum(1 for carrier in concept.carriers if carrier.identifier == identifier)


def _carriers(console: Console, concept: SharedConcept) -> None:
    from rich.table import Table
    from rich.text import Text

    from quanta.cli.output import shown

    if not concept.carriers:
        console.print(Text("no served column carries it", style="dim"))
        return
    table = Table("product", "port", "column", "identifier", title="columns", title_justify="left")
    for carrier in concept.carriers:
        table.add_row(
            shown(carrier.product),
            shown(carrier.port),
            shown(carrier.column),
            shown(carrier.identifier) if carrier.identifier else Text("names it", style="dim"),
        )
    console.print(table)


def _mappings(console: Console, concept: SharedConcept) -> None:
    from rich.table import Table

    from quanta.cli.output import shown

    if not concept.mappings:
        return
    table = Table("port", "maps", title="mappings", title_justify="left")
    for mapping in concept.mappings:
        table.add_row(shown(mapping.address), shown(_maps(mapping, concept.name)))
    console.print(table)


def _maps(mapping: ConceptMapping, concept: str) -> str:
    """What a mapping maps: ``customer_id = user_id = session session_id``."""
    return " = ".join(
        column.identifier if column.concept == concept else f"{column.concept} {column.identifier}"
        for column in mapping.columns
    )


def print_join_warnings(warnings: Sequence[JoinWarning], console: Console | None = None) -> None:
    """Each suspicious join of a query, on stderr (the result stays alone on stdout)."""
    from rich.text import Text

    from quanta.cli import output

    console = console or output.errors
    for warning in warnings:
        console.print(Text.assemble(("warning:", "yellow"), " ", output.shown(warning.message)))
        console.print(Text.assemble("  ", output.shown(f"hint: {warning.hint}", "dim")))
