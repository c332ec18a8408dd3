"""The contract of an output port, in the shape of the Open Data Contract Standard (v3.1).

Quanta reads the parts it enforces (schema, keys, nullability, classification,
service levels) and keeps every other ODCS key as written.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from quanta.model._base import AuthoritativeDefinition, CustomProperty, OpenDocument
from quanta.model.types import LogicalType, PhysicalType, parse_physical_type

ODCS_VERSIONS = ("v3.1.0", "v3.0.2", "v3.0.1", "v3.0.0")

# The default sensitivity levels; global policy maps each to a protection.
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted", "pii", "pii-sensitive")
PRIVATE = ("pii", "pii-sensitive", "restricted")
"""Levels whose values never leave the data: not in samples, statistics, metadata or errors."""
PLATFORM_PREFIX = "__quanta_"
"""Stored columns whose names begin so are the platform's (the pseudonyms of private
columns): no contract declares one, and no reader sees one."""


class Column(OpenDocument):
    """A property of the port's table (ODCS ``schema[].properties[]``)."""

    name: str = Field(min_length=1)
    logical_type: LogicalType
    physical_type: str | None = None
    description: str | None = None
    business_name: str | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    primary_key_position: int = -1
    classification: str | None = None
    tags: list[str] = Field(default_factory=list)
    examples: list[Any] = Field(default_factory=list)
    quality: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _not_the_platforms(cls, value: str) -> str:
        if value.lower().startswith(PLATFORM_PREFIX):
            raise ValueError(
                f"column names beginning with {PLATFORM_PREFIX} are Quanta's own: rename it"
            )
        return value

    @field_validator("physical_type")
    @classmethod
    def _known_physical_type(cls, value: str | None) -> str | None:
        if value is not None:
            parse_physical_type(value)
        return value

    @field_validator("classification")
    @classmethod
    def _known_classification(cls, value: str | None) -> str | None:
        if value is not None and value not in CLASSIFICATIONS:
            raise ValueError(
                f"unknown classification {value!r}: use one of {', '.join(CLASSIFICATIONS)}"
            )
        return value

    @property
    def physical(self) -> PhysicalType | None:
        return parse_physical_type(self.physical_type) if self.physical_type else None

    @property
    def concept(self) -> str | None:
        """The concept of its data subject: its ``customProperties`` entry ``concept``."""
        return self._custom_text("concept")

    @property
    def identifier(self) -> str | None:
        """The identifier type of its concept its values are (``customer_id``): its
        ``customProperties`` entry ``identifier``; None when it identifies nobody."""
        return self._custom_text("identifier")

    def _custom_text(self, name: str) -> str | None:
        for item in (self.model_extra or {}).get("customProperties") or []:
            if isinstance(item, dict) and item.get("property") == name:
                value = item.get("value")
                return value if isinstance(value, str) and value else None
        return None

    @property
    def nullable(self) -> bool:
        return not (self.required or self.primary_key)

    @property
    def private(self) -> bool:
        return (self.classification or "").lower() in PRIVATE


class SchemaObject(OpenDocument):
    name: str = Field(min_length=1)
    physical_type: str = "table"
    physical_name: str | None = None
    description: str | None = None
    business_name: str | None = None
    properties: list[Column] = Field(min_length=1)
    quality: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class ServiceLevel(OpenDocument):
    """An ODCS ``slaProperties`` entry, e.g. freshness 1 d on ``orders.ordered_at``."""

    property: str
    value: Any
    unit: str | None = None
    element: str | None = None
    description: str | None = None


class ContractDescription(OpenDocument):
    purpose: str | None = None
    limitations: str | None = None
    usage: str | None = None


class Contract(OpenDocument):
    api_version: Literal["v3.1.0", "v3.0.2", "v3.0.1", "v3.0.0"] = "v3.1.0"
    kind: Literal["DataContract"] = "DataContract"
    id: str = Field(min_length=1)
    name: str | None = None
    version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")  # ASCII: \d takes other digits
    status: str = "active"
    domain: str | None = None
    tenant: str | None = None
    tags: list[str] = Field(default_factory=list)
    description: ContractDescription | None = None
    schema_: list[SchemaObject] = Field(alias="schema", min_length=1, max_length=1)
    sla_properties: list[ServiceLevel] = Field(default_factory=list)
    authoritative_definitions: list[AuthoritativeDefinition] = Field(default_factory=list)
    custom_properties: list[CustomProperty] = Field(default_factory=list)

    @property
    def table(self) -> SchemaObject:
        return self.schema_[0]

    @property
    def columns(self) -> list[Column]:
        return self.table.properties

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def private_columns(self) -> list[str]:
        """Columns classified pii, pii-sensitive or restricted: their values never leave the
        data."""
        return [column.name for column in self.columns if column.private]

    @property
    def primary_key(self) -> list[str]:
        keyed = [column for column in self.columns if column.primary_key]
        keyed.sort(key=lambda column: column.primary_key_position)
        return [column.name for column in keyed]

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    def service_level(self, name: str) -> ServiceLevel | None:
        return next((sla for sla in self.sla_properties if sla.property == name), None)
