"""What changes between the contract a port serves and the one proposed for it, each
change classified for the consumers who rely on the port.

- **breaking**: something a consumer may rely on is gone or weaker: a column removed (a
  rename is a removal and an addition), a type changed other than widened, a column made
  nullable or no longer unique, the primary key changed, a stricter classification (a
  reader cleared for the old level may lose the values), a quality rule or service level
  loosened or removed;
- **additive**: more, or stronger, than before: a column added, a type widened (every old
  value still fits), a rule or level added or tightened, a looser classification;
- **cosmetic**: what no reading depends on: descriptions, names for people, tags, examples.

Pure: no I/O. Publishing asks for a new major version when a change breaks, and the
lifecycle asks who of the consumers relies on what changed (issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from quanta.model.contract import CLASSIFICATIONS, Column, Contract, ServiceLevel
from quanta.model.durations import SECONDS, iso_seconds
from quanta.model.types import PhysicalType, parse_physical_type


class Kind(StrEnum):
    BREAKING = "breaking"
    ADDITIVE = "additive"
    COSMETIC = "cosmetic"


@dataclass(frozen=True)
class Change:
    kind: Kind
    what: str
    """The change, for people: ``column email removed``."""
    where: str
    """What it concerns: ``email``, ``slaProperties.freshness``, ``schema``."""
    why: str
    """Why it is of its kind."""
    column: str | None = None
    """The one column it concerns; None for the port as a whole (its key, a table rule, a
    service level): every consumer of the port relies on that."""


def contract_changes(served: Contract, proposed: Contract) -> list[Change]:
    """Every change from ``served`` to ``proposed``, breaking ones first."""
    changes = [
        *(replace(change, column=change.where) for change in _columns(served, proposed)),
        *_primary_key(served, proposed),
        *_rules(_table_rules(served), _table_rules(proposed), "the table", "schema"),
        *_levels(served.sla_properties, proposed.sla_properties),
    ]
    for attribute, label in (("name", "name"), ("description", "description"), ("tags", "tags")):
        if getattr(served, attribute) != getattr(proposed, attribute):
            changes.append(
                Change(Kind.COSMETIC, f"the contract's {label} changed", "contract", _UNREAD)
            )
    order = {Kind.BREAKING: 0, Kind.ADDITIVE: 1, Kind.COSMETIC: 2}
    return sorted(changes, key=lambda change: order[change.kind])


def breaks(changes: list[Change]) -> bool:
    """Whether any of ``changes`` is breaking: the proposed contract needs a new major."""
    return any(change.kind is Kind.BREAKING for change in changes)


_UNREAD = "no read depends on it"


def _columns(served: Contract, proposed: Contract) -> list[Change]:
    before = {column.name: column for column in served.columns}
    after = {column.name: column for column in proposed.columns}
    changes = [
        Change(Kind.BREAKING, f"column {name} removed", name, "a consumer reading it fails")
        for name in before
        if name not in after
    ]
    changes += [
        Change(Kind.ADDITIVE, f"column {name} added", name, "no existing read changes")
        for name in after
        if name not in before
    ]
    for name in before.keys() & after.keys():
        changes += _column(before[name], after[name])
    return changes


def _primary_key(served: Contract, proposed: Contract) -> list[Change]:
    before, after = served.primary_key, proposed.primary_key
    if before == after:
        return []
    now, was = ", ".join(after) or "none", ", ".join(before) or "none"
    return [
        Change(
            Kind.BREAKING,
            f"primary key is now ({now}), was ({was})",
            "schema",
            "a consumer joining or deduplicating on the key misreads the rows",
        )
    ]


def _column(old: Column, new: Column) -> list[Change]:
    name = new.name
    changes = []
    typed = _type_change(old, new)
    if typed is not None:
        changes.append(typed)
    for attribute, lost, gained in (
        ("required", "made nullable", "made required"),
        ("unique", "no longer unique", "made unique"),
    ):
        if getattr(old, attribute) and not getattr(new, attribute):
            changes.append(
                Change(Kind.BREAKING, f"column {name} {lost}", name, "a guarantee is withdrawn")
            )
        elif getattr(new, attribute) and not getattr(old, attribute):
            changes.append(
                Change(Kind.ADDITIVE, f"column {name} {gained}", name, "a guarantee is added")
            )
    was, now = _level(old.classification), _level(new.classification)
    if now > was:
        changes.append(
            Change(
                Kind.BREAKING,
                f"column {name} classified {new.classification} (was {old.classification})",
                name,
                "stricter: a reader cleared for the old level may lose the values",
            )
        )
    elif now < was:
        changes.append(
            Change(
                Kind.ADDITIVE,
                f"column {name} classified {new.classification} (was {old.classification})",
                name,
                "looser: more readers may see the values",
            )
        )
    changes += _rules(_column_rules(old), _column_rules(new), f"column {name}", name)
    changes += _relationships(old, new)
    for attribute in ("description", "business_name", "tags", "examples"):
        if getattr(old, attribute) != getattr(new, attribute):
            label = attribute.replace("_", " ")
            changes.append(Change(Kind.COSMETIC, f"column {name}: {label} changed", name, _UNREAD))
    return changes


def _relationships(old: Column, new: Column) -> list[Change]:
    """A reference (``relationships``: a foreign key) removed or changed withdraws the
    guarantee that every value is found where it points."""
    name = new.name
    before = _listed((old.model_extra or {}).get("relationships"))
    after = _listed((new.model_extra or {}).get("relationships"))
    changes = [
        Change(
            Kind.BREAKING,
            f"column {name}: reference {ref} removed",
            name,
            "a guarantee is withdrawn",
        )
        for ref in before
        if ref not in after
    ]
    changes += [
        Change(Kind.ADDITIVE, f"column {name}: reference {ref} added", name, "a guarantee is added")
        for ref in after
        if ref not in before
    ]
    return changes


def _listed(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [repr(sorted(item.items())) if isinstance(item, dict) else repr(item) for item in value]


def _level(classification: str | None) -> int:
    """How strict a classification is: none as public."""
    written = (classification or "public").lower()
    return CLASSIFICATIONS.index(written) if written in CLASSIFICATIONS else len(CLASSIFICATIONS)


INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
"""Signed whole numbers, narrowest first: each holds every value of the ones before."""


def _type_change(old: Column, new: Column) -> Change | None:
    name = new.name
    if old.logical_type != new.logical_type:
        return Change(
            Kind.BREAKING,
            f"column {name} is now {new.logical_type} (was {old.logical_type})",
            name,
            "a consumer reading the old type fails or misreads it",
        )
    if old.physical_type and not new.physical_type:
        return Change(
            Kind.BREAKING,
            f"column {name} no longer declares its physical type (was {old.physical_type})",
            name,
            "it may be stored as another type: old values may not read the same",
        )
    before, after = _physical(old), _physical(new)
    if before is None or after is None or str(before) == str(after):
        return None
    what = f"column {name} is now {after} (was {before})"
    if _widens(before, after):
        return Change(Kind.ADDITIVE, what, name, "widened: every old value still fits")
    return Change(Kind.BREAKING, what, name, "narrowed or changed: old values may not fit")


def _physical(column: Column) -> PhysicalType | None:
    if column.physical_type is None:
        return None
    try:
        return parse_physical_type(column.physical_type)
    except ValueError:
        return None


def _widens(before: PhysicalType, after: PhysicalType) -> bool:
    """Whether every value of ``before`` is a value of ``after``, exactly."""
    if before.name in INTEGERS and after.name in INTEGERS:
        return INTEGERS.index(after.name) >= INTEGERS.index(before.name)
    if (before.name, after.name) == ("FLOAT", "DOUBLE"):
        return True
    if before.name == after.name == "DECIMAL":
        old_scale, new_scale = before.scale or 0, after.scale or 0
        old_whole = (before.precision or 0) - old_scale
        new_whole = (after.precision or 0) - new_scale
        return new_scale >= old_scale and new_whole >= old_whole
    return False


# -- quality rules and service levels --------------------------------------------------------

BOUNDS = {
    "mustBeLessThan": 1,
    "mustBeLessOrEqualTo": 1,
    "mustBeGreaterThan": -1,
    "mustBeGreaterOrEqualTo": -1,
}
"""Threshold keys by the way a larger value moves them: +1 looser, -1 stricter."""


def _table_rules(contract: Contract) -> list[dict[str, Any]]:
    return [rule for rule in contract.table.quality if isinstance(rule, dict)]


def _column_rules(column: Column) -> list[dict[str, Any]]:
    rules = [rule for rule in column.quality if isinstance(rule, dict)]
    # Column options are rules too: a minimum of 0 is ``minimum >= 0`` on every row.
    extra = column.model_extra or {}
    options = extra.get("logicalTypeOptions") or extra.get("logical_type_options") or {}
    if isinstance(options, dict):
        for option, value in options.items():
            key = {"minimum": "mustBeGreaterOrEqualTo", "maximum": "mustBeLessOrEqualTo"}.get(
                option
            )
            if key is not None:
                rules.append({"metric": f"option:{option}", key: value})
            else:
                rules.append({"metric": f"option:{option}", "mustBe": value})
    return rules


def _identity(rule: dict[str, Any]) -> str:
    """What a rule measures, apart from its threshold: its kind, metric, query, arguments,
    and the column a table's rule names."""
    kept = {
        key: rule.get(key)
        for key in ("type", "metric", "rule", "query", "arguments", "unit", "name", "column")
        if rule.get(key) is not None
    }
    return repr(sorted(kept.items(), key=lambda item: item[0]))


def _identified(rules: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The rules by what they measure and their order among the rules measuring it."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for rule in rules:
        identity = _identity(rule)
        found[(identity, seen.get(identity, 0))] = rule
        seen[identity] = seen.get(identity, 0) + 1
    return found


def _demoted(old: dict[str, Any], new: dict[str, Any]) -> bool:
    was, now = old.get("severity"), new.get("severity")
    return str(was or "").lower() in ("error", "") and str(now or "").lower() not in ("error", "")


def _threshold(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value for key, value in rule.items() if key.startswith("mustBe") or key == "mustNotBe"
    }


def _rules(
    before: list[dict[str, Any]], after: list[dict[str, Any]], owner: str, where: str
) -> list[Change]:
    """The rules' changes; ``owner`` names what they are rules of, ``where`` is its place
    (a column's name, or ``schema`` for the table's). Rules measuring the same thing are
    told apart by their order among those."""
    old = _identified(before)
    new = _identified(after)
    changes = []
    for identity, rule in old.items():
        label = _label(rule)
        if identity not in new:
            changes.append(
                Change(
                    Kind.BREAKING,
                    f"{owner}: rule {label} removed",
                    where,
                    "a guarantee is withdrawn",
                )
            )
            continue
        if _demoted(rule, new[identity]):
            changes.append(
                Change(
                    Kind.BREAKING,
                    f"{owner}: rule {label} no longer an error",
                    where,
                    "a failing rule no longer stops a publish: a guarantee is withdrawn",
                )
            )
            continue
        moved = _tightness(_threshold(rule), _threshold(new[identity]))
        if moved == "looser":
            changes.append(
                Change(
                    Kind.BREAKING, f"{owner}: rule {label} loosened", where, "a guarantee is weaker"
                )
            )
        elif moved == "stricter":
            changes.append(
                Change(
                    Kind.ADDITIVE,
                    f"{owner}: rule {label} tightened",
                    where,
                    "a guarantee is stronger",
                )
            )
        elif moved == "changed":
            changes.append(
                Change(
                    Kind.BREAKING,
                    f"{owner}: rule {label} changed",
                    where,
                    "what it guarantees is not the same",
                )
            )
    changes += [
        Change(Kind.ADDITIVE, f"{owner}: rule {_label(rule)} added", where, "a guarantee is added")
        for identity, rule in new.items()
        if identity not in old
    ]
    return changes


def _label(rule: dict[str, Any]) -> str:
    return str(rule.get("name") or rule.get("metric") or rule.get("type") or "sql")


def _tightness(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """How a threshold moved: None (the same), ``looser``, ``stricter`` or ``changed``."""
    if old == new:
        return None
    if old.keys() != new.keys() or len(old) != 1:
        return "changed"
    [(key, before)] = old.items()
    after = new[key]
    if key == "mustBeBetween" and _pair(before) and _pair(after):
        (low, high), (new_low, new_high) = before, after
        if new_low <= low and new_high >= high:
            return "looser"
        if new_low >= low and new_high <= high:
            return "stricter"
        return "changed"
    if key in BOUNDS and _number(before) and _number(after):
        larger = after > before
        return "looser" if (BOUNDS[key] > 0) == larger else "stricter"
    return "changed"


def _pair(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(map(_number, value))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


LOOSER_WHEN_LARGER = {
    "freshness": True,
    "latency": True,
    "frequency": True,
    "retention": False,
    "completeness": False,
    "availability": False,
}
"""Service levels by the way a larger value moves them; of any other, a changed value is a
change of what it promises (breaking)."""
DURATIONS = frozenset({"freshness", "latency", "frequency", "retention"})
"""Service levels that are durations."""
UNITS = {**SECONDS, **dict.fromkeys(("y", "yr", "year", "years"), 31_536_000)}
"""Units of a duration a service level is written in, in seconds."""


def _levels(before: list[ServiceLevel], after: list[ServiceLevel]) -> list[Change]:
    old = {(level.property, level.element or ""): level for level in before}
    new = {(level.property, level.element or ""): level for level in after}
    changes = []
    for key, level in old.items():
        where = f"slaProperties.{level.property}"
        if key not in new:
            changes.append(
                Change(
                    Kind.BREAKING,
                    f"service level {level.property} removed",
                    where,
                    "a promise is withdrawn",
                )
            )
            continue
        was, now = _measure(level), _measure(new[key])
        if was is None and now is None and _said(level) == _said(new[key]):
            continue
        if was is not None and was == now:
            continue
        larger = LOOSER_WHEN_LARGER.get(level.property)
        if was is None or now is None or larger is None:
            changes.append(
                Change(
                    Kind.BREAKING,
                    f"service level {level.property} changed",
                    where,
                    "what it promises is not the same",
                )
            )
            continue
        looser = (now > was) == larger
        changes.append(
            Change(
                Kind.BREAKING if looser else Kind.ADDITIVE,
                f"service level {level.property} {'loosened' if looser else 'tightened'}",
                where,
                "a promise is weaker" if looser else "a promise is stronger",
            )
        )
    changes += [
        Change(
            Kind.ADDITIVE,
            f"service level {level.property} added",
            f"slaProperties.{level.property}",
            "a promise is added",
        )
        for key, level in new.items()
        if key not in old
    ]
    return changes


def _measure(level: ServiceLevel) -> float | None:
    """A level's value in one unit (seconds for a duration, read as Quanta measures it: a
    number of days when no unit is said, or ISO 8601), or None when it has no number."""
    value = level.value
    if level.property in DURATIONS:
        if isinstance(value, str) and not level.unit:
            return iso_seconds(value)
        if not _number(value):
            return None
        factor = UNITS.get(str(level.unit or "d").lower())
        return None if factor is None else float(value) * factor
    if not _number(value):
        return None
    unit = (level.unit or "").lower()
    return float(value) if unit in ("", "percent", "%") else None


def _said(level: ServiceLevel) -> tuple[str, str]:
    return (repr(level.value), str(level.unit or "").lower())
