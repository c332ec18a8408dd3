"""Checks of a product descriptor's own entries: its transformation, its input ports'
sources and upstream addresses, and port names declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from quanta.model.product import Descriptor, Source, Transformation, custom_property
from quanta.model.result import Issue
from quanta.product_files import OutsideFolder, inside, source_files
from quanta.validation.yaml_models import YamlFile


def check_transformation(
    descriptor: Descriptor, file: YamlFile, folder: Path, issues: list[Issue]
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


def check_input_port(
    index: int,
    properties: Any,
    contract_id: str,
    file: YamlFile,
    folder: Path,
    issues: list[Issue],
) -> None:
    loc: tuple[str | int, ...] = ("inputPorts", index)
    reads = custom_property(properties, "reads")
    if reads is not None and not (
        isinstance(reads[1], list) and reads[1] and all(isinstance(n, str) and n for n in reads[1])
    ):
        issues.append(
            file.issue(
                (*loc, "customProperties", reads[0], "value"),
                "reads is not a list of column names",
                "list the upstream columns the transformation reads: {property: reads, value: "
                "[order_id, amount]}",
            )
        )
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


def check_unique(
    names: list[str], key: str, what: str, file: YamlFile, issues: list[Issue]
) -> None:
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
