"""Consumers' expectations: rules a consumer needs a port to hold, beyond its contract.

A consuming product declares them on its input port (``customProperties: [{property:
expects, value: [rules]}]``), registered when it publishes; a person with a grant, or the
owners of a product that reads the port, registers them with ``quanta consumer expect``.
Each publish of the producer checks them on the new data with the contract's own rules,
named ``expected by <consumer>: ...``: one that fails stops the publish, naming who needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from quanta.errors import AccessDenied, NotFound, UserError
from quanta.model.access import RequestState
from quanta.model.actor import Actor
from quanta.model.contract import Contract
from quanta.model.expectations import Expectation
from quanta.model.names import PortAddress

if TYPE_CHECKING:
    from quanta.context import MeshContext

PREFIX = "expected by "


def expected(contract: Contract, expectations: Sequence[Expectation]) -> Contract:
    """``contract`` with every expectation's rules added to its own, each named for its
    consumer: a rule naming a ``column`` is that column's."""
    if not expectations:
        return contract
    document = contract.to_document()
    table = document["schema"][0]
    for expectation in expectations:
        for number, written in enumerate(expectation.rules, 1):
            rule = dict(written)
            label = rule.get("name") or rule.get("metric") or rule.get("type") or f"rule {number}"
            rule["name"] = f"{PREFIX}{expectation.consumer}: {label}"
            column = rule.pop("column", None)
            if column is None:
                table.setdefault("quality", []).append(rule)
                continue
            for written_column in table.get("properties", []):
                if written_column.get("name") == column:
                    written_column.setdefault("quality", []).append(rule)
                    break
            else:
                raise UserError(
                    f"the expectation of {expectation.consumer} names no column {column!r} of "
                    f"{expectation.product}.{expectation.port}"
                )
    return Contract.model_validate(document)


def problems(contract: Contract, rules: list[dict[str, Any]], consumer: str) -> list[str]:
    """What keeps ``rules`` from running on ``contract``'s port, one line each."""
    from quanta.quality.parsing import parse_rules

    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        return [
            "expectations are a list of quality rules, such as {metric: nullValues, "
            "column: amount, mustBe: 0}"
        ]
    probe = Expectation(
        product="", port="", major=0, consumer=consumer, by="", rules=rules, at=datetime.now(UTC)
    )
    try:
        augmented = expected(contract, [probe])
    except UserError as error:
        return [str(error)]
    except ValueError as error:
        return [f"the rules are not valid: {str(error).splitlines()[0]}"]
    return [f"{problem.message} ({problem.hint})" for problem in parse_rules(augmented).problems]


class Consumers:
    def __init__(self, mesh: MeshContext) -> None:
        self.mesh = mesh

    def expect(
        self,
        actor: Actor,
        address: str,
        rules: list[dict[str, Any]],
        *,
        for_product: str | None = None,
    ) -> Expectation:
        """Register what ``actor`` (or the product ``for_product``, as its owner) needs the
        port ``address`` to hold; no rules withdraws it."""
        try:
            parsed = PortAddress.parse(address)
        except ValueError as error:
            raise UserError(f"{address!r}: {error}") from None
        product = str(parsed.product)
        catalog = self.mesh.stores.catalog
        version = catalog.version(product)
        if version is None:
            raise NotFound(f"there is no product {product}: find one with quanta search")
        port = version.port(parsed.port)
        if port is None:
            raise UserError(
                f"name one port of {product}: {', '.join(p.port for p in version.ports)}"
            )
        access = self.mesh.access
        if for_product is not None:
            access.require_owner(actor, for_product)
            consumer = for_product
            reads = any(
                use.upstream == product and use.upstream_port == port.port
                for use in (catalog.version(for_product) or version).inputs
            )
            if not reads:
                raise AccessDenied(f"{for_product} does not read {product}.{port.port}")
        else:
            consumer = actor.name
            now = datetime.now(UTC)
            granted = any(
                grant.live(now) and grant.covers(port.port)
                for grant in access.requests(
                    product=product, consumer=actor.name, states=[RequestState.APPROVED]
                )
            )
            if not granted and not access.owns(actor, product):
                raise AccessDenied(
                    f"only a consumer with a grant on {product}.{port.port} registers what it "
                    f"expects of it; {actor.name} has none"
                )
        contract = Contract.model_validate(port.contract)
        found = problems(contract, rules, consumer)
        if found:
            raise UserError(
                f"the expectation cannot run on {product}.{port.port}: " + "; ".join(found)
            )
        expectation = Expectation(
            product=product,
            port=port.port,
            major=port.major,
            consumer=consumer,
            by=actor.name,
            rules=rules,
            at=datetime.now(UTC),
        )
        return self.mesh.stores.expectations.set(expectation)
