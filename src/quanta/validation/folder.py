"""Load a product folder into a `DataProduct`, or say precisely what is wrong with it.

Everything here looks only at the folder's files; what needs the catalog (does the
upstream product exist? is there a cycle?) is checked by the mesh.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from quanta.model.contract import Contract
from quanta.model.product import (
    DataProduct,
    Descriptor,
    Source,
    Transformation,
    custom_property,
)
from quanta.model.result import Issue
from quanta.product_files import OutsideFolder, inside, source_files
from quanta.quality.parsing import parse_rules as compile_contract
from quanta.validation.yaml_lines import LocatedYaml, YamlProblem, read_located

DESCRIPTOR = "dataproduct.yaml"
CONTRACTS = "contracts"
CONTRACT_PATTERNS = ("*.odcs.yaml", "*.odcs.yml")

M = TypeVar("M", bound=BaseModel)


@dataclass
class LoadedFolder:
    folder: Path
    product: DataProduct | None = None
    issues: list[Issue] = field(default_factory=list)
    descriptor_file: _File | None = None

    def issue_at(self, loc: tuple[str | int, ...], message: str, hint: str | None = None) -> Issue:
        """An issue at a place in ``dataproduct.yaml``, with its line."""
        if self.descriptor_file is None:
            return Issue(file=str(self.folder / DESCRIPTOR), message=message, hint=hint)
        return self.descriptor_file.issue(loc, message, hint)


@dataclass
class _File:
    path: Path
    label: str
    located: LocatedYaml | None = None

    def issue(self, loc: tuple[str | int, ...], message: str, hint: str | None = None) -> Issue:
        line = self.located.line_of(loc) if self.located else None
        value = self.located.value_at(loc) if self.located else None
        if isinstance(value, dict | list):
            value = None
        return Issue(
            file=self.label,
            line=line,
            field=_dotted(loc),
            value=value,
            message=message,
            hint=hint,
        )


def load_folder(folder: Path) -> LoadedFolder:
    """Read ``dataproduct.yaml`` and the contracts in ``folder``; never raises for bad files."""
    loaded = LoadedFolder(folder)
    descriptor_file = _File(folder / DESCRIPTOR, _label(folder / DESCRIPTOR))
    loaded.descriptor_file = descriptor_file
    if not folder.is_dir():
        loaded.issues.append(
            Issue(file=str(folder), message="there is no such folder", hint="check the path")
        )
        return loaded
    descriptor = (
        _parse(descriptor_file, Descriptor, loaded.issues)
        if _inside(descriptor_file, folder, loaded.issues)
        else None
    )
    contracts: dict[str, tuple[Contract, _File]] = {}
    invalid: set[str] = set()
    for path in sorted(
        p for pattern in CONTRACT_PATTERNS for p in (folder / CONTRACTS).glob(pattern)
    ):
        contract_file = _File(path, _label(path))
        if not _inside(contract_file, folder, loaded.issues):
            invalid.add(_default_contract_id(path))
            continue
        contract = _parse(contract_file, Contract, loaded.issues)
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


def _inside(file: _File, folder: Path, issues: list[Issue]) -> bool:
    """A product's own files are read only from inside its folder (a missing one is `_parse`'s)."""
    if not file.path.exists():
        return True
    try:
        inside(folder, str(file.path.relative_to(folder)))
    except OutsideFolder as error:
        issues.append(Issue(file=file.label, message=error.problem, hint=error.todo))
        return False
    return True


def _parse(file: _File, model: type[M], issues: list[Issue]) -> M | None:
    if not file.path.is_file():
        issues.append(
            Issue(
                file=file.label,
                message="the file is missing",
                hint="create it (quanta init scaffolds a complete product folder)",
            )
        )
        return None
    try:
        file.located = read_located(file.path)
    except YamlProblem as problem:
        issues.append(
            Issue(
                file=file.label,
                line=problem.line,
                field=_dotted(problem.path),
                message=problem.message,
                hint=problem.hint,
            )
        )
        return None
    except UnicodeDecodeError:
        issues.append(
            Issue(file=file.label, message="the file is not UTF-8 text", hint="save it as UTF-8")
        )
        return None
    if not isinstance(file.located.data, dict):
        issues.append(
            Issue(
                file=file.label,
                line=1,
                message="the document must be a mapping of keys",
                hint=f"start from the {model.__name__} example in the docs",
            )
        )
        return None
    try:
        return model.model_validate(file.located.data)
    except ValidationError as error:
        for detail in error.errors():
            issues.append(_pydantic_issue(file, model, detail))
        return None


def _pydantic_issue(file: _File, model: type[BaseModel], detail: Any) -> Issue:
    loc = tuple(part for part in detail["loc"] if not str(part).startswith("function-after"))
    kind = detail["type"]
    if kind == "missing":
        return file.issue(loc, f"{loc[-1]!r} is required", f"add {loc[-1]!r} here")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1], file)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
        return file.issue(loc, f"unknown key {loc[-1]!r}", hint)
    if kind == "literal_error":
        expected = detail.get("ctx", {}).get("expected", "")
        return file.issue(
            loc, f"value {detail.get('input')!r} is not allowed", f"use one of {expected}"
        )
    message = str(detail["msg"]).removeprefix("Value error, ")
    if kind == "value_error":
        # Quanta's own validators say "what is wrong: what to do".
        problem, _, todo = message.partition(": ")
        if todo:
            return file.issue(loc, problem, todo)
        return file.issue(loc, message, "correct the value on this line")
    return file.issue(loc, message, _hint_for(kind))


def _hint_for(kind: str) -> str | None:
    return {
        "string_type": "write it as a string (quote it)",
        "bool_type": "use true or false",
        "int_type": "use a whole number",
        "list_type": "write a list (lines starting with '- ')",
        "model_type": "write a mapping of keys",
        "dict_type": "write a mapping of keys",
        "string_pattern_mismatch": "use a semantic version such as 1.0.0",
        "too_short": "add at least one entry",
        "too_long": "Quanta reads one schema object per contract: give each port its own contract",
    }.get(kind)


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...], file: _File) -> list[str]:
    """The keys a nested model at ``loc`` accepts, by walking the field annotations."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        match = next((f for name, f in fields.items() if (f.alias or name) == part), None)
        if match is None:
            return []
        current = _model_in(match.annotation)
    fields = getattr(current, "model_fields", {})
    return sorted((f.alias or name) for name, f in fields.items())


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _check_descriptor(
    descriptor: Descriptor,
    file: _File,
    contracts: dict[str, tuple[Contract, _File]],
    invalid: set[str],
    folder: Path,
    issues: list[Issue],
) -> dict[str, tuple[Contract, _File]]:
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
    _check_transformation(descriptor, file, folder, issues)
    _check_unique(
        [p.name for p in descriptor.input_ports], "inputPorts", "input port", file, issues
    )
    _check_unique(
        [p.name for p in descriptor.output_ports], "outputPorts", "output port", file, issues
    )
    for index, port in enumerate(descriptor.input_ports):
        _check_input_port(index, port.custom_properties, port.contract_id, file, folder, issues)
    if not descriptor.output_ports:
        issues.append(
            file.issue(
                ("outputPorts",),
                "a product needs at least one output port",
                "add an output port and its contract",
            )
        )
    port_contracts: dict[str, tuple[Contract, _File]] = {}
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


def _check_columns(contract: Contract, file: _File, issues: list[Issue]) -> None:
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


def _check_transformation(
    descriptor: Descriptor, file: _File, folder: Path, issues: list[Issue]
) -> None:
    found = custom_property(descriptor.custom_properties, "transformation")
    if found is None:
        issues.append(
            file.issue(
                ("customProperties",),
                "the product has no transformation",
                "add a customProperties entry: {property: transformation, value: "
                "{language: sql, path: transform.sql}}",
            )
        )
        return
    index, value = found
    loc: tuple[str | int, ...] = ("customProperties", index, "value")
    try:
        transformation = Transformation.model_validate(value)
    except ValidationError as error:
        for detail in error.errors():
            issues.append(
                file.issue(
                    (*loc, *detail["loc"]),
                    str(detail["msg"]).removeprefix("Value error, "),
                    "language is sql or python; path is a file in the folder",
                )
            )
        return
    try:
        inside(folder, transformation.path)
    except OutsideFolder as error:
        problem = f"transformation file {error.problem}"
        issues.append(file.issue((*loc, "path"), problem, error.todo))
    if transformation.language == "sql" and len(descriptor.output_ports) > 1:
        issues.append(
            file.issue(
                (*loc, "language"),
                "one SQL query fills one output port, but "
                f"this product has {len(descriptor.output_ports)}",
                "use a Python transformation that returns one table per port, or split the product",
            )
        )


def _check_input_port(
    index: int,
    properties: Any,
    contract_id: str,
    file: _File,
    folder: Path,
    issues: list[Issue],
) -> None:
    loc: tuple[str | int, ...] = ("inputPorts", index)
    found = custom_property(properties, "source")
    if found is not None:
        source_index, value = found
        source_loc = (*loc, "customProperties", source_index, "value")
        try:
            source = Source.model_validate(value)
        except ValidationError as error:
            for detail in error.errors():
                message = str(detail["msg"]).removeprefix("Value error, ")
                problem, _, todo = message.partition(": ")
                issues.append(
                    file.issue(
                        (*source_loc, *detail["loc"]),
                        problem if todo else message,
                        todo or "a source is {path: data/file.csv, format: csv}",
                    )
                )
            return
        if source.file_format not in ("csv", "parquet", "json"):
            issues.append(
                file.issue(
                    (*source_loc, "path"),
                    f"cannot tell the format of {source.path!r}",
                    "add format: csv, parquet or json",
                )
            )
            return
        try:
            source_files(folder, source.path)
        except OutsideFolder as error:
            issues.append(
                file.issue(
                    (*source_loc, "path"),
                    f"source file {error.problem}",
                    f"{error.todo} (paths are relative to the product folder)",
                )
            )
        return
    from quanta.model.names import PortAddress

    try:
        PortAddress.parse(contract_id)
    except ValueError as error:
        issues.append(
            file.issue(
                (*loc, "contractId"),
                str(error),
                "name the upstream output port as domain.product or "
                "domain.product.port, or declare a source file",
            )
        )


def _check_unique(names: list[str], key: str, what: str, file: _File, issues: list[Issue]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            issues.append(
                file.issue(
                    (key, index, "name"),
                    f"{what} {name!r} is declared twice",
                    "give each port its own name",
                )
            )
        seen.add(name)


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
