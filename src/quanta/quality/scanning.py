"""Running a contract's rules on tables an engine can read, every rule of a port in one
scan of it (`conformance`). Nothing here knows of a mesh: publishing, ``quanta check`` and
``quanta contract test`` all run their checks through it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quanta.model.catalog import TableStats
from quanta.model.contract import Contract
from quanta.model.relations import Binding
from quanta.model.result import Check
from quanta.model.types import storable_type
from quanta.quality import conformance
from quanta.sql_text import quote

if TYPE_CHECKING:
    from quanta.engines import Engine, Limits, Session


@dataclass(frozen=True)
class Checked:
    """One port to check: its contract, how the engine reads it (named ``__port_<port>``),
    and what its metadata knows."""

    port: str
    contract: Contract
    binding: Binding
    stats: TableStats | None = None
    foreign: bool = False
    """Data from elsewhere (see `conformance.Target.foreign`)."""
    closed: bool = False
    """Its contract closes its schema (see `conformance.Target.closed`)."""


def relation_name(port: str) -> tuple[str, ...]:
    return (f"__port_{port}",)


def check_ports(
    engine: Engine,
    ports: Sequence[Checked],
    inputs: Sequence[Binding],
    limits: Limits,
    rules: tuple[conformance.Rule, ...] = conformance.RULES,
) -> list[Check]:
    """Every rule on each port, one scan per port; references read the ``inputs``."""
    readable = frozenset(name[0] for binding in inputs for name in binding.names if len(name) == 1)
    checks: list[Check] = []
    with engine.session([*(port.binding for port in ports), *inputs], limits=limits) as session:
        for port in ports:
            relation = quote(relation_name(port.port)[0])
            target = conformance.Target(
                port.port,
                port.contract,
                {},
                readable,
                relation,
                port.stats,
                foreign=port.foreign,
                closed=port.closed,
            )
            checks.extend(checks_on(session, target, rules))
    return checks


def checks_on(
    session: Session, target: conformance.Target, rules: tuple[conformance.Rule, ...]
) -> list[Check]:
    """Every rule on the target's relation, in at most one scan of it."""
    columns = {
        name: storable_type(kind) or kind
        for name, kind in session.columns(f"SELECT * FROM {target.relation}")
    }
    target = dataclasses.replace(target, columns=columns)
    plans = [rule(target) for rule in rules]
    compiled = conformance.compile_query(plans, target.relation)
    values: dict[str, Any] = {}
    if compiled is not None:
        query, keys = compiled
        row = session.row(query)
        values = dict(zip(keys, row.values(), strict=True))
    return [check for plan in plans for check in plan.judge(values)]
