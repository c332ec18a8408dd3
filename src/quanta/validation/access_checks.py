"""The ``access`` custom property of a descriptor: public ports and auto-approval rules."""

from __future__ import annotations

from pydantic import ValidationError

from quanta.model.access import AccessRules
from quanta.model.contract import Contract
from quanta.model.product import Descriptor, custom_property
from quanta.model.result import Issue
from quanta.validation.yaml_models import YamlFile

HINT = (
    "access takes {public: true | [port, ...], autoApprove: [{sameDomain: true, "
    "withoutPii: true, purposes: [...], maxDays: N}]}"
)


def check_access(
    descriptor: Descriptor,
    contracts: dict[str, Contract],
    file: YamlFile,
    issues: list[Issue],
) -> None:
    found = custom_property(descriptor.custom_properties, "access")
    if found is None:
        return
    index, value = found
    loc: tuple[str | int, ...] = ("customProperties", index, "value")
    try:
        rules = AccessRules.model_validate(value)
    except ValidationError as error:
        for detail in error.errors():
            issues.append(
                file.issue(
                    (*loc, *detail["loc"]), str(detail["msg"]).removeprefix("Value error, "), HINT
                )
            )
        return
    ports = [port.name for port in descriptor.output_ports]
    public = ports if rules.public is True else rules.public or []
    for position, port in enumerate(public):
        where = (*loc, "public") if rules.public is True else (*loc, "public", position)
        if port not in ports:
            issues.append(
                file.issue(where, f"there is no output port {port!r}", f"ports: {', '.join(ports)}")
            )
            continue
        contract = contracts.get(port)
        private = contract.private_columns if contract else []
        if private:
            issues.append(
                file.issue(
                    where,
                    f"port {port} cannot be public: its columns {', '.join(private)} are "
                    "classified pii or restricted",
                    "make only ports without private columns public, or ask for grants",
                )
            )
