"""The one read path: every read of a published port passes `ReadPath.bind`.

A query, ``mesh.read``, the checks of a published version and a build reading its input
products all turn catalog ports into engine bindings here, and nowhere else (a test holds
that line). The read knows who reads and why (an `Actor`), and decides per port which
columns the reader sees, each with an optional expression: the access capability refuses
a port here, governance masks a column here, usage metering counts the read here (every
bound port is told as a `PortRead` event).

Until access control lands, the rules are empty: every actor sees every column as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quanta.errors import QueryRefused
from quanta.events import EventBus, PortRead
from quanta.model.actor import Actor
from quanta.model.catalog import PortVersion
from quanta.model.relations import Binding, Exposed, TableScan


@dataclass(frozen=True)
class PublishedPort:
    """One output port at one published version, and the names a reader addresses it by."""

    product: str
    version: int
    port: PortVersion
    names: tuple[tuple[str, ...], ...]

    @property
    def address(self) -> str:
        return f"{self.product}.{self.port.port}"


ReadRule = Callable[[Actor, PublishedPort, tuple[Exposed, ...]], tuple[Exposed, ...]]
"""Narrows or masks the columns an actor sees of a port (given what earlier rules left);
raises a `quanta.errors.UserError` to refuse the read with the reason and what to do."""

READ_RULES: tuple[ReadRule, ...] = ()
"""The built-in rules, in order; a mesh's `ReadPath.rules` starts as these."""


class ReadPath:
    def __init__(self, events: EventBus, rules: Sequence[ReadRule] = READ_RULES) -> None:
        self.events = events
        self.rules = list(rules)

    def exposed(self, actor: Actor, port: PublishedPort) -> tuple[Exposed, ...]:
        """The columns ``actor`` sees of ``port``, each with the SQL that computes it."""
        columns = tuple(Exposed(column.name) for column in port.port.columns)
        for rule in self.rules:
            columns = rule(actor, port, columns)
        return columns

    def bind(self, actor: Actor, ports: Sequence[PublishedPort]) -> list[Binding]:
        """Bindings that show each port as ``actor`` may see it; refused reads raise."""
        decided = [(port, self.exposed(actor, port)) for port in ports]
        bindings = []
        for port, columns in decided:
            if port.port.columns and not columns:
                raise QueryRefused(f"{actor} may read no column of {port.address}")
            # Only a port recorded without its columns shows what the table holds.
            shown = columns if port.port.columns else None
            bindings.append(Binding(port.names, _scan(port.port), shown))
        for port, columns in decided:
            self.events.emit(
                PortRead(
                    subject=port.product,
                    actor=actor,
                    port=port.port.port,
                    version=port.version,
                    columns=[column.name for column in columns],
                )
            )
        return bindings


def _scan(port: PortVersion) -> TableScan:
    files = tuple(port.files) if port.files is not None else None
    return TableScan(port.metadata_location, port.snapshot_id, port.location, files)
