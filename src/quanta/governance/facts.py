"""The facts a policy sees: plain dicts, lists, str, int and bool, never a model.

Every key is always there, so conditions need no ``has()``: an unknown text is ``""``, an
unknown list ``[]``, an unknown count ``0``. ``product``::

    id, domain, name              "sales.daily_revenue", "sales", "daily_revenue"
    owner                         the team's name
    members                       the team members' usernames
    kind                          "source-aligned" | "aggregate" | "consumer-aligned" | "", from
                                  the tags ("source" and "consumer", as `quanta init` tags, too)
    status, tags
    description, purpose          description.purpose (the same text under both names)
    usage_text                    description.usage
    retention                     the first output contract's retention, when a run can
                                  enforce it (a period and a time column): "2 y"; else ""
    inputs                        [{name, product ("" for a file source), source (bool)}]
    ports                         the output ports, each a port's facts (below)
    checks                        {run (bool), passed, warned, failed}: the last check run;
                                  failed counts checks that failed or could not run
    usage                         {reads, consumers}
    grants                        [{consumer, purpose, clear_pii (bool), days_left}]

A port (``port``, and each of ``product.ports``)::

    name, version, contract_id, has_contract (bool), contract_version
    service_levels                [{property, value (as text), unit}]
    columns                       each a column's facts (below)

A column (``column``): ``name, logical_type, physical_type, classification, concept`` (the
column's ``customProperties`` entry ``concept``: whose data it is), ``identifier`` (its
entry ``identifier``: which of the concept's identifiers its values are), ``required``
(bool) and ``description``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from quanta.model.access import AccessRequest
from quanta.model.product import DataProduct
from quanta.model.result import Outcome
from quanta.model.usage import ConsumerUsage

Facts = dict[str, Any]

KIND_TAGS = {
    "source-aligned": "source-aligned",
    "source": "source-aligned",
    "aggregate": "aggregate",
    "consumer-aligned": "consumer-aligned",
    "consumer": "consumer-aligned",
}
"""Tags that name a product's kind: the first one found among the tags wins."""


def product_facts(
    product: DataProduct,
    *,
    checks: Iterable[Outcome | str] | None = None,
    usage: Sequence[ConsumerUsage] | None = None,
    grants: Iterable[AccessRequest] | None = None,
    now: datetime | None = None,
    column_keys: Collection[str] | None = None,
) -> Facts:
    """The facts of a product folder as loaded (`quanta.validation.folder.load_folder`).

    ``checks`` are the outcomes of the last check run (None: never checked); ``usage``
    what `quanta.catalog.usage` sums up per consumer; ``grants`` the live grants.
    """
    contracts = {port: contract.to_document() for port, contract in product.contracts.items()}
    return record_facts(
        product.descriptor.to_document(),
        contracts,
        checks=checks,
        usage=usage,
        grants=grants,
        now=now,
        column_keys=column_keys,
    )


def record_facts(
    descriptor_document: Mapping[str, Any],
    contracts: Mapping[str, Mapping[str, Any]],
    *,
    checks: Iterable[Outcome | str] | None = None,
    usage: Sequence[ConsumerUsage] | None = None,
    grants: Iterable[AccessRequest] | None = None,
    now: datetime | None = None,
    column_keys: Collection[str] | None = None,
) -> Facts:
    """The facts of a published product, from what the catalog keeps: the descriptor
    document (`ProductRecord.descriptor`) and each output port's contract document
    (`PortVersion.contract`), by port name."""
    descriptor = descriptor_document
    product_id = _text(descriptor.get("id"))
    domain, _, name = product_id.partition(".")
    team = _mapping(descriptor.get("team"))
    description = _mapping(descriptor.get("description"))
    tags = [_text(tag) for tag in _list(descriptor.get("tags"))]
    keys = COLUMN_KEYS if column_keys is None else COLUMN_KEYS & {"name", *column_keys}
    ports = [
        _port(port, product_id, contracts, keys)
        for port in map(_mapping, _list(descriptor.get("outputPorts")))
    ]
    purpose = _text(description.get("purpose"))
    return {
        "id": product_id,
        "domain": _text(descriptor.get("domain")) or domain,
        "name": name,
        "owner": _text(team.get("name")),
        "members": [
            _text(member.get("username")) for member in map(_mapping, _list(team.get("members")))
        ],
        "kind": next((KIND_TAGS[tag] for tag in tags if tag in KIND_TAGS), ""),
        "status": _text(descriptor.get("status")),
        "description": purpose,
        "purpose": purpose,
        "usage_text": _text(description.get("usage")),
        "tags": tags,
        "retention": _retention(descriptor, contracts, now or datetime.now(UTC)),
        "inputs": [_input(port) for port in map(_mapping, _list(descriptor.get("inputPorts")))],
        "ports": ports,
        "checks": _checks(checks),
        "usage": {
            "reads": sum(item.reads for item in usage or ()),
            "consumers": len({item.consumer for item in usage or ()}),
        },
        "grants": [_grant(grant, now or datetime.now(UTC)) for grant in grants or ()],
    }


def _port(
    port: Mapping[str, Any],
    product_id: str,
    contracts: Mapping[str, Mapping[str, Any]],
    keys: frozenset[str],
) -> Facts:
    name = _text(port.get("name"))
    contract = contracts.get(name)
    document = contract or {}
    return {
        "name": name,
        "version": _text(port.get("version")),
        "contract_id": _text(port.get("contractId")) or f"{product_id}.{name}",
        "has_contract": contract is not None,
        "contract_version": _text(document.get("version")),
        "service_levels": [
            {
                "property": _text(level.get("property")),
                "value": _text(level.get("value")),
                "unit": _text(level.get("unit")),
            }
            for level in map(_mapping, _list(document.get("slaProperties")))
        ],
        "columns": [
            _column(column, keys)
            for table in map(_mapping, _list(document.get("schema")))
            for column in map(_mapping, _list(table.get("properties")))
        ],
    }


COLUMN_KEYS = frozenset(
    (
        "name",
        "logical_type",
        "physical_type",
        "classification",
        "concept",
        "identifier",
        "required",
        "description",
    )
)


def _column(column: Mapping[str, Any], keys: frozenset[str] = COLUMN_KEYS) -> Facts:
    get = column.get
    facts = {
        "name": _text(get("name")),
        "logical_type": _text(get("logicalType")),
        "physical_type": _text(get("physicalType")),
        "classification": _text(get("classification")),
        "concept": _text(_custom(get("customProperties"), "concept")),
        "identifier": _text(_custom(get("customProperties"), "identifier")),
        "required": get("required") is True,
        "description": _text(get("description")),
    }
    # Only what some condition reads: CEL converts every key it is given, on every product.
    return facts if keys is COLUMN_KEYS else {key: facts[key] for key in keys}


def _input(port: Mapping[str, Any]) -> Facts:
    source = _custom(port.get("customProperties"), "source") is not None
    upstream = "" if source else ".".join(_text(port.get("contractId")).split(".")[:2])
    return {"name": _text(port.get("name")), "product": upstream, "source": source}


def _retention(
    descriptor: Mapping[str, Any], contracts: Mapping[str, Mapping[str, Any]], now: datetime
) -> str:
    """The first output contract's retention as declared, when a retention run can enforce
    it (a period, and a date or time column to judge rows by); else ``""``."""
    from quanta.model.contract import Contract
    from quanta.privacy.retention import retention_plan

    for port in map(_mapping, _list(descriptor.get("outputPorts"))):
        document = contracts.get(_text(port.get("name"))) or {}
        for level in map(_mapping, _list(document.get("slaProperties"))):
            if level.get("property") != "retention" or not _text(level.get("value")):
                continue
            try:
                planned = retention_plan(Contract.model_validate(document), now)
            except ValueError:
                return ""
            if isinstance(planned, str):
                return ""
            return f"{_text(level.get('value'))} {_text(level.get('unit'))}".strip()
    return ""


def _checks(outcomes: Iterable[Outcome | str] | None) -> Facts:
    found = [str(outcome) for outcome in outcomes] if outcomes is not None else []
    return {
        "run": outcomes is not None,
        "passed": found.count(Outcome.PASSED),
        "warned": found.count(Outcome.WARNED),
        "failed": found.count(Outcome.FAILED) + found.count(Outcome.ERROR),
    }


def _grant(grant: AccessRequest, now: datetime) -> Facts:
    left = (grant.expires_at - now).days if grant.expires_at is not None else 0
    return {
        "consumer": grant.consumer,
        "purpose": grant.purpose,
        "clear_pii": grant.clear_pii,
        "days_left": max(left, 0),
    }


def _custom(properties: Any, name: str) -> Any:
    """The value of the ``customProperties`` entry ``name``; None when there is none."""
    for item in _list(properties):
        if isinstance(item, dict) and item.get("property") == name:
            return item.get("value")
    return None


def _text(value: Any) -> str:
    """A fact's text: "" for nothing; numbers as written; a mapping or list as JSON."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
