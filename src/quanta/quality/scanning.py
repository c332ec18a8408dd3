"""Running a contract's rules on tables an engine can read, every rule of a port in one
scan of it (`conformance`). Nothing here knows of a mesh: publishing, ``quanta check`` and
``quanta contract test`` all run their checks through it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quanta.errors import QueryRefused
from quanta.model.catalog import TableStats
from quanta.model.contract import Contract
from quanta.model.relations import CHECKED_PREFIX, Binding
from quanta.model.result import Check
from quanta.model.types import storable_type
from quanta.quality import conformance
from quanta.quality.judging import Unmeasured
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
    private_elsewhere: frozenset[str] = frozenset()
    """See `conformance.Target.private_elsewhere`."""


def relation_name(port: str) -> tuple[str, ...]:
    return (f"{CHECKED_PREFIX}{port}",)


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
                private_elsewhere=port.private_elsewhere,
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
    target = dataclasses.replace(
        target, columns=columns, key_range=_key_ranges(session, columns, target.readable)
    )
    plans = [rule(target) for rule in rules]
    compiled = conformance.compile_query(plans, target.relation)
    values: dict[str, Any] = {}
    if compiled is not None:
        query, keys = compiled
        try:
            row = session.row(query)
        except QueryRefused:
            if session.stopped() is not None:
                raise  # the time limit: nothing more runs
            # Rows that cannot be read at all are no rule's fault: that error is the run's.
            session.row(f"SELECT count(*) AS n FROM {target.relation}")
            values = _one_by_one(session, plans, target.relation)
        else:
            values = dict(zip(keys, row.values(), strict=True))
    return [check for plan in plans for check in plan.judge(values)]


def _one_by_one(session: Session, plans: list[conformance.Plan], relation: str) -> dict[str, Any]:
    """Every measure on its own, once the scan of them all was refused (a SQL rule that
    fails as it runs): the ones refused again are `Unmeasured`, with the engine's reason."""
    values: dict[str, Any] = {}
    for plan in plans:
        for key, sql in plan.measures.items():
            alone = conformance.Plan({key: sql}, flags=plan.flags)
            compiled = conformance.compile_query([alone], relation)
            assert compiled is not None
            try:
                values[key] = next(iter(session.row(compiled[0]).values()))
            except QueryRefused as error:
                if session.stopped() is not None:
                    raise
                values[key] = Unmeasured(str(error))
    return values


WHOLE = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


def _key_ranges(
    session: Session, columns: dict[str, str], readable: frozenset[str]
) -> Callable[[str, str, str], tuple[int, int] | None]:
    """`conformance.Target.key_range` for a port of ``columns``: asks the engine, once per
    referenced column, for its bounds and how many distinct values it holds."""
    found: dict[tuple[str, str], tuple[int, int] | None] = {}

    def key_range(column: str, relation: str, referenced: str) -> tuple[int, int] | None:
        if columns.get(column) not in WHOLE or relation not in readable:
            return None
        if (relation, referenced) not in found:
            found[relation, referenced] = _dense(session, relation, referenced)
        return found[relation, referenced]

    return key_range


def _dense(session: Session, relation: str, column: str) -> tuple[int, int] | None:
    """``(low, high)`` when ``column`` of ``relation`` holds every whole number from low
    to high (and NULL, maybe) and no other value; else None."""
    kinds = dict(session.columns(f"SELECT * FROM {quote(relation)}"))
    if (storable_type(kinds.get(column, "")) or kinds.get(column)) not in WHOLE:
        return None
    row = session.row(
        f"SELECT min({quote(column)}) AS low, max({quote(column)}) AS high, "
        f"count(DISTINCT {quote(column)}) AS n FROM {quote(relation)}"
    )
    low, high, values = row["low"], row["high"], row["n"]
    if low is None or high is None or int(values) != int(high) - int(low) + 1:
        return None
    return int(low), int(high)
