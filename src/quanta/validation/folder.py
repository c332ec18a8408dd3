"""Load a product folder into a `DataProduct`, or say precisely what is wrong with it.

Everything here looks only at the folder's files; what needs the catalog (does the
upstream product exist? is there a cycle?) is checked by the mesh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from quanta.model.contract import Contract
from quanta.model.product import DataProduct, Descriptor
from quanta.model.result import Issue
from quanta.product_files import OutsideFolder, inside
from quanta.quality.parsing import parse_rules as compile_contract
from quanta.validation.access_checks import check_access
from quanta.validation.descriptor_checks import (
    check_input_port,
    check_transformation,
    check_unique,
)
from quanta.validation.yaml_models import YamlFile, parse_model

DESCRIPTOR = "dataproduct.yaml"
CONTRACTS = "contracts"
CONTRACT_PATTERNS = ("*.odcs.yaml", "*.odcs.yml")


@dataclass
class LoadedFolder:
    folder: Path
    product: DataProduct | None = None
    issues: list[Issue] = field(default_factory=list)
    descriptor_file: YamlFile | None = None

    def issue_at(self, loc: tuple[str | int, ...], message: str, hint: str | None = None) -> Issue:
        """An issue at a place in ``dataproduct.yaml``, with its line."""
        if self.descriptor_file is None:
            return Issue(file=str(self.folder / DESCRIPTOR), message=message, hint=hint)
        return self.descriptor_file.issue(loc, message, hint)


def load_folder(folder: Path) -> LoadedFolder:
    """Read ``dataproduct.yaml`` and the contracts in ``folder``; never raises for bad files."""
    loaded = LoadedFolder(folder)
    descriptor_file = YamlFile(folder / DESCRIPTOR, _label(folder / DESCRIPTOR))
    loaded.descriptor_file = descriptor_file
    if not folder.is_dir():
        loaded.issues.append(
            Issue(file=str(folder), message="there is no such folder", hint="check the path")
        )
        return loaded
    descriptor = (
        parse_model(descriptor_file, Descriptor, loaded.issues)
        if _inside(descriptor_file, folder, loaded.issues)
        else None
    )
    contracts: dict[str, tuple[Contract, YamlFile]] = {}
    invalid: set[str] = set()
    for path in sorted(
        p for pattern in CONTRACT_PATTERNS for p in (folder / CONTRACTS).glob(pattern)
    ):
        contract_file = YamlFile(path, _label(path))
        if not _inside(contract_file, folder, loaded.issues):
            invalid.add(_default_contract_id(path))
            continue
        contract = parse_model(contract_file, Contract, loaded.issues)
        if contract is None:
            raw = contract_file.located.data if contract_file.located else None
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                invalid.add(raw["id"])
            invalid.add(_default_contract_id(path))
            continue
        _check_columns(contract, contract_file, loaded.issues)
        inputs = {port.name for port in descriptor.input_ports} if descriptor else None
        for problem in compile_contract(contract, inputs).problems:
            loaded.issues.append(contract_file.issue(problem.loc, problem.message, problem.hint))
        if contract.id in contracts:
            other = contracts[contract.id][1].label
            loaded.issues.append(
                contract_file.issue(
                    ("id",),
                    f"contract id {contract.id!r} is also used by {other}",
                    "give each contract its own id",
                )
            )
            continue
        contracts[contract.id] = (contract, contract_file)
    if descriptor is None:
        return loaded
    port_contracts = _check_descriptor(
        descriptor, descriptor_file, contracts, invalid, folder, loaded.issues
    )
    if loaded.issues:
        return loaded
    loaded.product = DataProduct(
        descriptor=descriptor,
        contracts={port: contract for port, (contract, _) in port_contracts.items()},
        contract_files={port: file.label for port, (_, file) in port_contracts.items()},
        folder=str(folder.resolve()),
    )
    return loaded


def _inside(file: YamlFile, folder: Path, issues: list[Issue]) -> bool:
    """A product's own files are read only from inside its folder (a missing one is left
    to `parse_model`)."""
    if not file.path.exists():
        return True
    try:
        inside(folder, str(file.path.relative_to(folder)))
    except OutsideFolder as error:
        issues.append(Issue(file=file.label, message=error.problem, hint=error.todo))
        return False
    return True


def _check_descriptor(
    descriptor: Descriptor,
    file: YamlFile,
    contracts: dict[str, tuple[Contract, YamlFile]],
    invalid: set[str],
    folder: Path,
    issues: list[Issue],
) -> dict[str, tuple[Contract, YamlFile]]:
    product_id = descriptor.product_id
    if descriptor.domain is not None and descriptor.domain != product_id.domain:
        issues.append(
            file.issue(
                ("domain",),
                f"domain {descriptor.domain!r} does not match the id {descriptor.id!r}",
                f"set domain to {product_id.domain!r}",
            )
        )
    if descriptor.team is None:
        issues.append(
            file.issue(
                ("team",),
                "every product needs an owning team",
                "add team: {name: ..., members: [{username: ..., role: owner}]}",
            )
        )
    check_transformation(descriptor, file, folder, issues)
    check_unique([p.name for p in descriptor.input_ports], "inputPorts", "input port", file, issues)
    check_unique(
        [p.name for p in descriptor.output_ports], "outputPorts", "output port", file, issues
    )
    for index, port in enumerate(descriptor.input_ports):
        check_input_port(index, port.custom_properties, port.contract_id, file, folder, issues)
    if not descriptor.output_ports:
        issues.append(
            file.issue(
                ("outputPorts",),
                "a product needs at least one output port",
                "add an output port and its contract",
            )
        )
    port_contracts: dict[str, tuple[Contract, YamlFile]] = {}
    for index, output in enumerate(descriptor.output_ports):
        contract_id = output.contract_id or f"{product_id}.{output.name}"
        found = contracts.get(contract_id)
        loc: tuple[str | int, ...] = (
            "outputPorts",
            index,
            "contractId" if output.contract_id else "name",
        )
        if found is None and (contract_id in invalid or output.name in invalid):
            continue  # its contract file is broken, and already reported
        if found is None:
            known = ", ".join(sorted(contracts)) or "none"
            issues.append(
                file.issue(
                    loc,
                    f"no contract with id {contract_id!r} in {CONTRACTS}/",
                    f"add {CONTRACTS}/{output.name}.odcs.yaml with "
                    f"id: {contract_id} (contracts found: {known})",
                )
            )
            continue
        contract, contract_file = found
        if contract.version != output.version:
            issues.append(
                file.issue(
                    ("outputPorts", index, "version"),
                    f"port version {output.version!r} differs from its contract's "
                    f"version {contract.version!r} ({contract_file.label})",
                    "make them the same",
                )
            )
        port_contracts[output.name] = found
    check_access(descriptor, {port: c for port, (c, _) in port_contracts.items()}, file, issues)
    unused = sorted(set(contracts) - {c.id for c, _ in port_contracts.values()})
    for contract_id in unused:
        contract_file = contracts[contract_id][1]
        issues.append(
            contract_file.issue(
                ("id",),
                f"contract {contract_id!r} belongs to no output port",
                "name it in an output port's contractId, or remove the file",
            )
        )
    return port_contracts


def _default_contract_id(path: Path) -> str:
    """The port a contract file is named after: contracts/orders.odcs.yaml is for orders."""
    return path.name.split(".")[0]


def _check_columns(contract: Contract, file: YamlFile, issues: list[Issue]) -> None:
    seen: set[str] = set()
    for index, column in enumerate(contract.columns):
        if column.name in seen:
            issues.append(
                file.issue(
                    ("schema", 0, "properties", index, "name"),
                    f"column {column.name!r} is declared twice",
                    "give each column its own name, or remove one",
                )
            )
        seen.add(column.name)


def _label(path: Path) -> str:
    return shown_path(path)


def shown_path(path: str | Path) -> str:
    """A path as messages show it: relative to the working folder, never absolute.

    Messages reach logs, terminals of other users and, later, HTTP answers: the layout of
    the machine's disk is not theirs to see.
    """
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.path.relpath(resolved, Path.cwd().resolve())
