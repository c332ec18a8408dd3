"""Does a port's data conform to its contract? Columns, types, nullability, primary key.

Each rule is a plain function from a `Target` to a `Plan`: the aggregate measures it
needs and a judge that turns their values into checks. All plans of a port are run
as one query, so every rule shares a single scan of the data. Callers may pass their
own tuple of rules; the quality engine adds its rules the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quanta.model.catalog import TableStats
from quanta.model.contract import PLATFORM_PREFIX, Contract
from quanta.model.result import Check, Outcome
from quanta.model.types import parse_physical_type, storable_type
from quanta.quality.statistics import UNKNOWN, Statistic, answer
from quanta.sql_text import quote

if TYPE_CHECKING:
    from quanta.quality.rules import QualityRule

KeyRange = Callable[[str, str, str], tuple[int, int] | None]
"""``(column, relation, referenced column)`` of a reference to the range of whole numbers
the referenced column holds every one of, when both columns are whole numbers."""


@dataclass(frozen=True)
class Target:
    port: str
    contract: Contract
    columns: dict[str, str]
    """Actual column names and their storable types."""
    readable: frozenset[str] = frozenset()
    """Other relations the session can read by name (the product's input ports)."""
    relation: str = '"t"'
    """How the port's rows are named in the query, for rules that join them."""
    stats: TableStats | None = None
    """What the snapshot's metadata knows (row count, null counts, bounds), if anything."""
    code: str | None = None
    """The transformation's code, when known: a column it does not declare is named only
    when its code spells the name out (`quanta.model.names.told_names`)."""
    foreign: bool = False
    """Data from elsewhere (``quanta contract test``), not a build Quanta casts to its
    contract: an integer column of another width passes when every value fits the
    contract's, and a column the contract does not declare is reported, not failed."""
    closed: bool = False
    """Data from elsewhere whose contract closes its schema (DCS ``additionalFields:
    false``): a column it does not declare fails, as in a build."""
    private_elsewhere: frozenset[str] = frozenset()
    """Of data from elsewhere: the columns classified PII or restricted in the relations
    its SQL rules may read beside its rows; a rule naming one shows no value."""
    key_range: KeyRange | None = None
    """For a reference to a column of a readable relation: the whole numbers ``(low,
    high)`` when it holds every one of them and nothing else, or None (`measuring`)."""


@dataclass
class Plan:
    measures: dict[str, str] = field(default_factory=dict)
    judge: Callable[[dict[str, Any]], list[Check]] = lambda _values: []
    flags: dict[str, str] = field(default_factory=dict)
    """Row predicates the measures read by name, each evaluated once per row."""


Rule = Callable[[Target], Plan]


INTEGER_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "HUGEINT": (-(2**127), 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1),
    "USMALLINT": (0, 2**16 - 1),
    "UINTEGER": (0, 2**32 - 1),
    "UBIGINT": (0, 2**64 - 1),
    "UHUGEINT": (0, 2**128 - 1),
}
"""What each integer type holds: data from elsewhere fits a contract's width or not."""


def schema_rule(target: Target) -> Plan:
    checks: list[Check] = []
    measures: dict[str, str] = {}
    closed = not target.foreign or target.closed
    widths: list[tuple[int, str, str]] = []  # (place in checks, stored, declared)
    for index, column in enumerate(target.contract.columns):
        actual = target.columns.get(column.name)
        name = f"column {column.name}"
        about: dict[str, Any] = {
            "columns": [column.name],
            "location": f"schema.0.properties.{index}",
        }
        written = "physicalType" if column.physical_type else "logicalType"
        typed = {**about, "location": f"{about['location']}.{written}"}
        if actual is None:
            checks.append(
                Check(
                    name=f"{name} exists",
                    port=target.port,
                    kind="exists",
                    **about,
                    outcome=Outcome.FAILED,
                    reason="the column is missing from the "
                    + ("data" if target.foreign else "output"),
                    expected=column.physical_type or column.logical_type,
                )
            )
            continue
        try:
            stored = parse_physical_type(storable_type(actual) or actual)
        except ValueError:  # a nested value (a list, a struct): no type a contract states
            checks.append(
                Check(
                    name=f"{name} type",
                    port=target.port,
                    kind="type",
                    **typed,
                    outcome=Outcome.FAILED,
                    reason=f"the data holds {actual}, which is no type a contract column has",
                    observed=actual,
                    expected=column.physical_type or column.logical_type,
                )
            )
            continue
        declared = column.physical
        if (
            target.foreign
            and declared is not None
            and str(stored) in INTEGER_RANGES
            and str(declared) in INTEGER_RANGES
            and stored != declared
        ):
            key = f"schema_width_{len(widths)}"
            measures[f"{key}_min"] = f"min({quote(column.name)})"
            measures[f"{key}_max"] = f"max({quote(column.name)})"
            widths.append((len(checks), str(stored), str(declared)))
            checks.append(
                Check(
                    name=f"{name} type",
                    port=target.port,
                    outcome=Outcome.PASSED,
                    kind="type",
                    **typed,
                )
            )
        elif declared is not None and stored != declared:
            checks.append(
                Check(
                    name=f"{name} type",
                    port=target.port,
                    kind="type",
                    **typed,
                    outcome=Outcome.FAILED,
                    reason=f"the output has type {stored}, the contract says {declared}",
                    observed=str(stored),
                    expected=str(declared),
                )
            )
        elif stored.logical != column.logical_type:
            checks.append(
                Check(
                    name=f"{name} type",
                    port=target.port,
                    kind="type",
                    **typed,
                    outcome=Outcome.FAILED,
                    reason=f"the output has type {stored} ({stored.logical}), the "
                    f"contract says {column.logical_type}",
                    observed=stored.logical,
                    expected=column.logical_type,
                )
            )
        else:
            checks.append(
                Check(
                    name=f"{name} type",
                    port=target.port,
                    kind="type",
                    **typed,
                    outcome=Outcome.PASSED,
                    observed=str(stored),
                    expected=str(declared or column.logical_type),
                )
            )
    declared_names = {column.name for column in target.contract.columns}
    # The platform's own columns (stored pseudonyms) are no part of the product's output.
    extras = sorted(
        name
        for name in set(target.columns) - declared_names
        if not name.lower().startswith(PLATFORM_PREFIX)
    )
    # Data from elsewhere: its own column names, the user's, shown; reported, not failed.
    named = [
        name
        for name in extras
        if target.foreign or (target.code is not None and name in target.code)
    ]
    for extra in named:
        if not target.foreign:
            reason = "the output has a column the contract does not declare"
        elif closed:
            reason = "the data has it and the contract does not declare it (its schema is closed)"
        else:
            reason = "the data has it and the contract does not declare it (its schema is open)"
        checks.append(
            Check(
                name=f"column {extra} declared",
                port=target.port,
                outcome=Outcome.FAILED if closed else Outcome.PASSED,
                reason=reason,
                observed=extra,
                kind="declared",
                columns=[extra],
            )
        )
    unnamed = len(extras) - len(named)
    if unnamed:  # a name the code made up may be a value of its data: counted, not shown
        checks.append(
            Check(
                name="columns declared",
                port=target.port,
                kind="declared",
                outcome=Outcome.FAILED,
                reason=f"the output has {unnamed} column{'s' if unnamed > 1 else ''} the "
                "contract does not declare, named by what its code computed",
            )
        )

    def judge(values: dict[str, Any]) -> list[Check]:
        judged = list(checks)
        for number, (place, stored, declared) in enumerate(widths):
            low, high = (
                values.get(f"schema_width_{number}_min"),
                values.get(f"schema_width_{number}_max"),
            )
            least, most = INTEGER_RANGES[declared]
            fits = (low is None or least <= low) and (high is None or high <= most)
            judged[place] = judged[place].model_copy(
                update={
                    "outcome": Outcome.PASSED if fits else Outcome.FAILED,
                    "reason": f"stored as {stored}; every value fits {declared}"
                    if fits
                    else f"stored as {stored}, with values outside {declared}",
                    "observed": stored,
                    "expected": declared,
                }
            )
        return judged

    return Plan(measures, judge)


def not_null_rule(target: Target) -> Plan:
    required = [c for c in target.contract.columns if not c.nullable]
    columns = [c for c in required if c.name in target.columns]
    # A required column the data lacks: the schema check fails it; this says it did not run.
    where = {
        c.name: f"schema.0.properties.{i}.required" for i, c in enumerate(target.contract.columns)
    }
    missing = [
        Check(
            name=f"column {column.name} not null",
            port=target.port,
            outcome=Outcome.SKIPPED,
            reason=f"its column {column.name} is missing from the data",
            kind="required",
            columns=[column.name],
            location=where[column.name],
        )
        for column in required
        if column.name not in target.columns
    ]
    known: dict[str, Any] = {}
    measures: dict[str, str] = {}
    for column in columns:
        nulls = answer(Statistic("nulls", column.name), target.stats) if target.stats else UNKNOWN
        if nulls is not UNKNOWN:
            known[f"nulls:{column.name}"] = nulls
        else:
            measures[f"nulls:{column.name}"] = (
                f"count(*) FILTER (WHERE {quote(column.name)} IS NULL)"
            )

    def judge(values: dict[str, Any]) -> list[Check]:
        values = {**known, **values}
        checks = []
        for column in columns:
            nulls = int(values[f"nulls:{column.name}"])
            checks.append(
                Check(
                    name=f"column {column.name} not null",
                    port=target.port,
                    outcome=Outcome.PASSED if nulls == 0 else Outcome.FAILED,
                    reason="" if nulls == 0 else f"{nulls} rows have no value",
                    observed=nulls,
                    expected=0,
                    kind="required",
                    columns=[column.name],
                    location=where[column.name],
                )
            )
        return checks + missing

    return Plan(measures, judge)


def primary_key_rule(target: Target) -> Plan:
    from quanta.quality import judging, measuring

    key = target.contract.primary_key
    if not key or any(name not in target.columns for name in key):
        return Plan()
    rule = dataclasses.replace(
        measuring.repeats(f"primary key ({', '.join(key)}) unique", key), kind="primaryKey"
    )
    found = measuring.measures([rule], target.contract, target.relation, prefix="pk")

    def judge(values: dict[str, Any]) -> list[Check]:
        checks = judging.judge([rule], values, target.port, prefix="pk")
        for check in checks:
            if not check.outcome.ok:
                many = check.observed != 1
                check.reason = (
                    f"{check.observed} row{'s' if many else ''} repeat{'' if many else 's'} a key"
                )
        return checks

    return Plan(found.sql, judge, found.flags)


def contract_quality_rule(target: Target) -> Plan:
    """The quality rules the contract declares (see `quanta.quality.parsing`).

    A reference whose input port this session cannot read is reported as skipped.
    """
    from quanta.quality import judging, measuring, parsing

    # Data from elsewhere: a SQL rule may join the contract's other tables, bound here.
    tables = target.readable if target.foreign else frozenset()
    parsed = parsing.parse_rules(target.contract, tables=tables, private=target.private_elsewhere)
    present = [r for r in parsed.rules if r.column is None or r.column in target.columns]
    # A rule comparing the values of a column of another type than the contract's: its
    # type check fails it; the rule says it did not run, and the others run.
    mistyped = _mistyped(target)
    wrong = [r for r in present if r.column in mistyped and r.kind not in ANY_TYPE]
    present = [r for r in present if r not in wrong]
    runnable = [r for r in present if r.reference is None or r.reference in target.readable]
    # A rule on a column the data lacks: the schema check fails that column; the rule says
    # it did not run, and every other rule runs.
    missing = [
        Check(
            name=r.name,
            port=target.port,
            outcome=Outcome.SKIPPED,
            severity=r.severity,
            reason=f"its column {r.column} is missing from the data"
            if r not in wrong
            else f"its column {r.column} holds {mistyped[r.column or '']}, not the contract's "
            "type (its type check fails)",
            **_about(r),
        )
        for r in parsed.rules
        if r not in present
    ]
    skipped = missing + [
        Check(
            name=r.name,
            port=target.port,
            outcome=Outcome.SKIPPED,
            severity=r.severity,
            reason=f"its input port {r.reference!r} is not readable here (a source file, "
            "or no longer published): checked at publish",
            **_about(r),
        )
        for r in present
        if r not in runnable
    ]
    # Validation refuses rules that cannot run; a contract kept from an older version may
    # still hold one (a SQL rule the guard now refuses): it is an error, and is not run.
    unrunnable = [
        Check(
            name=f"rule at {'.'.join(str(part) for part in problem.loc)}",
            port=target.port,
            outcome=Outcome.ERROR,
            reason=f"{problem.message} ({problem.hint})",
            location=".".join(str(part) for part in problem.loc),
        )
        for problem in parsed.problems
    ]
    found = measuring.measures(
        runnable, target.contract, target.relation, stats=target.stats, key_range=target.key_range
    )
    return Plan(
        found.sql,
        lambda values: (
            judging.judge(runnable, {**found.known, **values}, target.port) + skipped + unrunnable
        ),
        found.flags,
    )


ANY_TYPE = frozenset({"required", "nullValues", "missingValues", "unique", "duplicateValues"})
"""Kinds of rule that hold of values of any type: they count NULLs, or compare values
with each other, never with a value of the contract's type."""


def _mistyped(target: Target) -> dict[str, str]:
    """The contract's columns whose data is of another kind than the contract says (text
    for a number), with the type the data holds."""
    found = {}
    for column in target.contract.columns:
        actual = target.columns.get(column.name)
        if actual is None:
            continue
        try:
            stored = parse_physical_type(storable_type(actual) or actual)
        except ValueError:
            found[column.name] = actual
            continue
        if stored.logical != column.logical_type:
            found[column.name] = str(stored)
    return found


def _about(rule: QualityRule) -> dict[str, Any]:
    """What a check of ``rule`` tells of it: its kind, its columns, where it is declared."""
    return {
        "kind": rule.kind,
        "columns": list(rule.columns or ([rule.column] if rule.column else [])),
        "location": ".".join(str(part) for part in rule.loc),
    }


DATA_RULES: tuple[Rule, ...] = (not_null_rule, primary_key_rule, contract_quality_rule)
"""The rules that need the data; ``schema_rule`` needs only the column names and types."""

RULES: tuple[Rule, ...] = (schema_rule, *DATA_RULES)


ROWS_SEEN = "rows seen"


def compile_query(plans: list[Plan], relation: str) -> tuple[str, list[str]] | None:
    """One SELECT computing every measure of every plan, and the measure keys in order.

    Each measure gets its own alias, so that equal expressions of different rules stay
    apart in the result; row flags are computed once in an inner projection.
    """
    keys = [key for plan in plans for key in plan.measures]
    if not keys:
        return None
    expressions = [
        f"{plan.measures[key]} AS m{index}"
        for index, (plan, key) in enumerate((plan, key) for plan in plans for key in plan.measures)
    ]
    # Measures may all be subqueries of their own: an aggregate keeps the result one row
    # (a row count a Parquet scan takes from the files' footers).
    keys.append(ROWS_SEEN)
    expressions.append(f"count(*) AS m{len(expressions)}")
    flags = {name: sql for plan in plans for name, sql in plan.flags.items()}
    source = relation
    if flags:
        projected = ", ".join(f"({sql}) AS {name}" for name, sql in flags.items())
        source = f"(SELECT *, {projected} FROM {relation}) AS __rows"
    return f"SELECT {', '.join(expressions)} FROM {source}", keys
