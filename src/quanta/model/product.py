"""A data product's descriptor, in the shape of the Open Data Product Standard (v1.0.0).

ODPS has no place for how a product is built, so Quanta keeps that in the
standard's own extension point, ``customProperties``:

- on the product, ``transformation``: ``{language: sql, path: transform.sql}`` or
  ``{language: python, path: transform.py, function: build}``;
- on an input port, ``source``: ``{path: data/orders.parquet, format: parquet}`` for a
  file the product reads; without it the port reads another product's output port,
  named by ``contractId`` (``domain.product`` or ``domain.product.port``);
- on the product, optionally, ``buildLimits``: ``{memory: 2GB, threads: 2, seconds: 600}``,
  what its build may use, within the mesh's own limits (`quanta.build.limits`).
"""

from __future__ import annotations

import difflib
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from quanta.model._base import AuthoritativeDefinition, CustomProperty, Document
from quanta.model.contract import Contract
from quanta.model.names import PortAddress, ProductId, name_problem, new_name_problem
from quanta.model.sources import (
    OPTION_HINTS,
    OPTION_KINDS,
    SOURCE_OPTIONS,
    format_of,
    option_value_fits,
)

ODPS_VERSIONS = ("v1.0.0", "v0.9.0")
STATUSES = ("proposed", "draft", "active", "deprecated", "retired")
SOURCE_FORMATS = ("csv", "parquet", "json")


class Transformation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: Literal["sql", "python"]
    path: str
    function: str = "build"

    @field_validator("path")
    @classmethod
    def _inside_the_folder(cls, value: str) -> str:
        return relative_path(value)


SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([KMGT]i?B|B)")
SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
SIZE_UNITS |= {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


class BuildLimits(BaseModel):
    """What one build of the product may use; each at most the mesh's own limit
    (``QUANTA_BUILD_MEMORY_LIMIT``, ``QUANTA_BUILD_THREADS``, ``QUANTA_BUILD_TIMEOUT``),
    which also stands for what the product leaves out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: str | None = None
    """The engine's memory, and the Python transformation's process's: ``512MB``, ``2GB``."""
    threads: int | None = Field(None, ge=1, le=1024)
    seconds: float | None = Field(None, gt=0)
    """Wall time of the build and its checks."""

    @field_validator("memory")
    @classmethod
    def _a_size(cls, value: str | None) -> str | None:
        if value is not None and (not SIZE.fullmatch(value) or not size_bytes(value)):
            raise ValueError(f"{value!r} is not a size")
        return value

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory is None else size_bytes(self.memory)


def size_bytes(value: str) -> int:
    """The bytes of a size as ``buildLimits.memory`` writes it (``512MB``)."""
    found = SIZE.fullmatch(value)
    assert found is not None, "only checked sizes are measured"
    return int(float(found[1]) * SIZE_UNITS[found[2]])


def _build_limits_checked(item: CustomProperty) -> CustomProperty:
    """``buildLimits`` is checked as the descriptor is read, where its line is known."""
    if item.property != "buildLimits":
        return item
    example = "write it as {memory: 2GB, threads: 2, seconds: 600}"
    if not isinstance(item.value, dict):
        raise ValueError(f"buildLimits is not a mapping: {example}")
    try:
        BuildLimits.model_validate(item.value)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            raise ValueError(
                f"buildLimits has no field {field!r}: it holds memory, threads and seconds"
            ) from None
        problem = str(first["msg"]).removeprefix("Value error, ")
        todo = {
            "memory": "write a number and a unit, e.g. 512MB or 2GB (KB, MB, GB, TB; "
            "KiB, MiB, GiB, TiB)",
            "threads": "write a whole number of threads, at least 1",
            "seconds": "write the seconds the build may take, more than 0",
        }.get(field, example)
        raise ValueError(f"buildLimits.{field} is wrong ({problem}): {todo}") from None
    return item


class Mapping(BaseModel):
    """An output port whose rows map identifiers to each other: each row says that the
    values of its ``columns`` (each naming an identifier of a concept) denote the same
    subject. Erasure follows mappings to every identifier a subject has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str
    columns: tuple[str, ...] = Field(min_length=2, max_length=16)


def _mappings_checked(item: CustomProperty) -> CustomProperty:
    """``mappings`` is checked as the descriptor is read, where its line is known."""
    if item.property != "mappings":
        return item
    example = "write it as a list of {port: accounts, columns: [customer_id, user_id]}"
    if not isinstance(item.value, list) or not item.value:
        raise ValueError(f"mappings is not a list: {example}")
    for index, mapping in enumerate(item.value):
        try:
            Mapping.model_validate(mapping)
        except ValidationError:
            raise ValueError(
                f"mappings[{index}] is not a mapping of one port and 2 to 16 of its "
                f"columns: {example}"
            ) from None
    return item


def _custom_checked(item: CustomProperty) -> CustomProperty:
    return _mappings_checked(_build_limits_checked(item))


class Source(BaseModel):
    """A file (or glob of files) inside the product folder that a source-aligned product reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    format: Literal["csv", "parquet", "json"] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _inside_the_folder(cls, value: str) -> str:
        return relative_path(value)

    @field_validator("options")
    @classmethod
    def _known_options(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        path = info.data.get("path")
        if path is None:
            return value  # the path is wrong already, and reported
        file_format = format_of(path, info.data.get("format"))
        known = SOURCE_OPTIONS.get(file_format)
        if known is None:
            return value  # the format is unknown, and reported
        for key, item in value.items():
            kind = known.get(key)
            if kind is None:
                close = difflib.get_close_matches(str(key), list(known), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(known)}"
                raise ValueError(f"{file_format} sources have no option {str(key)!r}: {hint}")
            if not option_value_fits(kind, item):
                raise ValueError(f"option {key!r} takes {OPTION_KINDS[kind]}: {OPTION_HINTS[kind]}")
        return value

    @property
    def file_format(self) -> str:
        return format_of(self.path, self.format)


def relative_path(value: str) -> str:
    """``value`` as a path relative to the product folder, never leaving it by its spelling.

    Symbolic links can still lead out: `quanta.product_files` resolves them where files are read.
    """
    path = PurePosixPath(value.replace("\\", "/"))
    if not value.strip() or path.is_absolute() or ".." in path.parts or ":" in value[:3]:
        raise ValueError(
            f"path {value!r} must stay inside the product folder: write it relative to "
            "the folder, without '..'"
        )
    return value


def _named(value: str, problem: str | None) -> str:
    if problem:
        raise ValueError(problem)
    return value


def custom_property(properties: list[CustomProperty], name: str) -> tuple[int, Any] | None:
    for index, item in enumerate(properties):
        if item.property == name:
            return index, item.value
    return None


def _names_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


class Extensible(Document):
    """The extension points most ODPS objects share."""

    tags: list[str] = Field(default_factory=list)
    custom_properties: list[CustomProperty] = Field(default_factory=list)
    authoritative_definitions: list[AuthoritativeDefinition] = Field(default_factory=list)


class Port(Extensible):
    name: str

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _named(value, name_problem(value, "port name"))


class Description(Document):
    purpose: str | None = None
    limitations: str | None = None
    usage: str | None = None
    authoritative_definitions: list[AuthoritativeDefinition] = Field(default_factory=list)
    custom_properties: list[CustomProperty] = Field(default_factory=list)


class TeamMember(Extensible):
    username: str
    name: str | None = None
    description: str | None = None
    role: str | None = None
    date_in: str | None = None
    date_out: str | None = None
    replaced_by_username: str | None = None


class Team(Extensible):
    name: str = Field(min_length=1)
    description: str | None = None
    members: list[TeamMember] = Field(default_factory=list)


class Support(Document):
    channel: str
    url: str
    description: str | None = None
    tool: str | None = None
    scope: str | None = None
    invitation_url: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_properties: list[CustomProperty] = Field(default_factory=list)


class InputPort(Port):
    version: str
    contract_id: str

    @field_validator("version")
    @classmethod
    def _names_a_major(cls, value: str) -> str:
        # ASCII digits only: int() reads other digits too, which no contract version holds.
        if not re.fullmatch(r"v?[0-9]+(\.[0-9]+){0,2}", value):
            raise ValueError(
                f"version {value!r} names no major version: write the upstream contract's "
                'major version, e.g. "1"'
            )
        return value

    @property
    def source(self) -> Source | None:
        found = custom_property(self.custom_properties, "source")
        return None if found is None else Source.model_validate(found[1])

    @property
    def reads(self) -> list[str] | None:
        """The upstream columns a Python transformation declares it reads (customProperty
        ``reads``): its reliance. None when undeclared (SQL's is found from the query)."""
        found = custom_property(self.custom_properties, "reads")
        if found is None or not _names_list(found[1]):
            return None
        return list(found[1])

    @property
    def expects(self) -> list[dict[str, Any]]:
        """Rules the product needs the upstream port to hold (customProperty ``expects``):
        registered when it publishes, checked at each of the producer's publishes."""
        found = custom_property(self.custom_properties, "expects")
        if found is None or not isinstance(found[1], list):
            return []
        return [rule for rule in found[1] if isinstance(rule, dict)]

    @property
    def upstream(self) -> PortAddress | None:
        """The output port this input reads, or None for a file source."""
        return None if self.source else PortAddress.parse(self.contract_id)

    @property
    def major(self) -> int:
        """The upstream contract's major version this port relies on ("1", "1.2.0", "v1")."""
        return int(self.version.lstrip("v").split(".")[0])


class OutputPort(Port):
    version: str
    description: str | None = None
    type: str = "table"
    contract_id: str | None = None
    sbom: list[dict[str, Any]] = Field(default_factory=list)
    input_contracts: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        # An output port names a table: stricter than an input port's name.
        return _named(value, new_name_problem(value, "port name"))


class Descriptor(Document):
    """The whole ``dataproduct.yaml`` document."""

    api_version: Literal["v1.0.0", "v0.9.0"] = "v1.0.0"
    kind: Literal["DataProduct"] = "DataProduct"
    id: str
    name: str | None = None
    version: str | None = None
    status: str
    domain: str | None = None
    tenant: str | None = None
    authoritative_definitions: list[AuthoritativeDefinition] = Field(default_factory=list)
    description: Description | None = None
    custom_properties: list[Annotated[CustomProperty, AfterValidator(_custom_checked)]] = Field(
        default_factory=list
    )
    tags: list[str] = Field(default_factory=list)
    input_ports: list[InputPort] = Field(default_factory=list)
    output_ports: list[OutputPort] = Field(default_factory=list)
    management_ports: list[dict[str, Any]] = Field(default_factory=list)
    support: list[Support] = Field(default_factory=list)
    team: Team | None = None
    product_created_ts: str | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _named(value, new_name_problem(ProductId.parse(value).name, "product name"))

    @property
    def product_id(self) -> ProductId:
        return ProductId.parse(self.id)

    @property
    def transformation(self) -> Transformation | None:
        found = custom_property(self.custom_properties, "transformation")
        return None if found is None else Transformation.model_validate(found[1])

    @property
    def build_limits(self) -> BuildLimits | None:
        """What the product declares its build may use (checked as it was read)."""
        found = custom_property(self.custom_properties, "buildLimits")
        return None if found is None else BuildLimits.model_validate(found[1])

    @property
    def mappings(self) -> tuple[Mapping, ...]:
        """The output ports that map identifiers to each other (checked as it was read)."""
        found = custom_property(self.custom_properties, "mappings")
        return () if found is None else tuple(Mapping.model_validate(m) for m in found[1])

    @property
    def owner(self) -> str:
        return self.team.name if self.team else ""

    @property
    def contact(self) -> str:
        """The owner's username, else the first member's, else the first support channel."""
        if self.team and self.team.members:
            owners = [m for m in self.team.members if (m.role or "").lower() == "owner"]
            return (owners or self.team.members)[0].username
        return self.support[0].url if self.support else ""


class DataProduct(BaseModel):
    """A product folder, loaded: its descriptor, one contract per output port, its code."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    descriptor: Descriptor
    contracts: dict[str, Contract]
    folder: str
    contract_files: dict[str, str] = Field(default_factory=dict)

    @property
    def id(self) -> ProductId:
        return self.descriptor.product_id

    @property
    def transformation(self) -> Transformation:
        transformation = self.descriptor.transformation
        assert transformation is not None, "validated products always have a transformation"
        return transformation

    @property
    def upstream_products(self) -> list[ProductId]:
        found = {port.upstream.product for port in self.descriptor.input_ports if port.upstream}
        return sorted(found)


def nested_error(error: ValidationError) -> str:
    """The first message of a nested model's validation error, for a custom property."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
