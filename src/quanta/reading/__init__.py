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
from typing import Any

from quanta.errors import QueryRefused, UserError
from quanta.events import EventBus, PortRead
from quanta.model.actor import Actor, ActorKind
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


def as_stored(port: PublishedPort) -> tuple[Exposed, ...]:
    return tuple(Exposed(column.name) for column in port.port.columns)


class ReadPath:
    def __init__(
        self,
        events: EventBus,
        rules: Sequence[ReadRule] = READ_RULES,
        stored: Callable[[PublishedPort], tuple[Exposed, ...]] = as_stored,
    ) -> None:
        self.events = events
        self.rules = list(rules)
        self.stored = stored
        """Every column of a port with its values in clear (an encrypted one decrypted)."""

    def exposed(self, actor: Actor, port: PublishedPort) -> tuple[Exposed, ...]:
        """The columns ``actor`` sees of ``port``, each with the SQL that computes it."""
        if actor.kind == ActorKind.PRODUCT and actor.name == port.product:
            return self.stored(port)  # a product reads itself whole: its checks judge it
        columns = tuple(Exposed(column.name) for column in port.port.columns)
        for rule in self.rules:
            columns = rule(actor, port, columns)
        return columns

    def values_shown(self, actor: Actor, port: PublishedPort) -> set[str]:
        """The columns whose stored values ``actor`` may see of ``port``: what the catalog
        may show of them too (samples of failing rows, bounds). A masked column is not one;
        a refused port has none."""
        try:
            exposed = self.exposed(actor, port)
        except UserError:
            return set()
        return {column.name for column in exposed if column.expression is None}

    def redact_checks(
        self, actor: Actor, port: PublishedPort, checks: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``checks`` (as the catalog keeps them) without the sample values of columns the
        actor may not see of ``port``."""
        shown = self.values_shown(actor, port)
        whole = shown >= {column.name for column in port.port.columns}
        redacted = []
        for check in checks:
            if check.get("port") == port.port.port and check.get("samples"):
                check = {**check, "samples": only_shown(check["samples"], shown)}
            if check.get("port") == port.port.port and not whole:
                check = {**check, **unmeasured(port.port.port)}
            redacted.append(check)
        return redacted

    def redact_stats(self, actor: Actor, port: PublishedPort) -> PortVersion:
        """The port as the catalog shows it to ``actor``: no statistics of columns whose
        values it may not see."""
        stats = port.port.stats
        if stats is None:
            return port.port
        shown = self.values_shown(actor, port)
        kept = {name: value for name, value in stats.columns.items() if name in shown}
        return port.port.model_copy(update={"stats": stats.model_copy(update={"columns": kept})})

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
                    columns=tuple(column.name for column in columns),
                    protected=tuple(c.name for c in columns if c.expression is not None),
                )
            )
        return bindings


def unmeasured(port: str) -> dict[str, Any]:
    """What a check shows of its measure to a reader who may not see every column of
    ``port``: a rule's observed value can be any of them (``max(name)``)."""
    return {
        "observed": None,
        "reason": f"the measured value is not shown: you may not read every column of {port}",
    }


def only_shown(rows: list[dict[str, Any]], shown: set[str]) -> list[dict[str, Any]]:
    """Sample rows with only the columns in ``shown``."""
    return [{name: value for name, value in row.items() if name in shown} for row in rows]


def _scan(port: PortVersion) -> TableScan:
    files = tuple(port.files) if port.files is not None else None
    return TableScan(port.metadata_location, port.snapshot_id, port.location, files)
