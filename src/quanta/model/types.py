"""The column types Quanta stores, and how contract type names map onto them.

Contracts name a column's ``logicalType`` (ODCS) and optionally its ``physicalType``.
Only types that every engine reading the Iceberg tables understands are storable:
a UUID is stored as VARCHAR and a timestamp with time zone is kept as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

LogicalType = Literal[
    "string", "date", "timestamp", "time", "number", "integer", "object", "array", "boolean"
]
LOGICAL_TYPES: tuple[str, ...] = get_args(LogicalType)

# Canonical storable types and the logical type each one carries.
STORABLE: dict[str, str] = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "FLOAT": "number",
    "DOUBLE": "number",
    "DECIMAL": "number",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "BLOB": "string",
}

_ALIASES = {
    "STRING": "VARCHAR",
    "TEXT": "VARCHAR",
    "CHAR": "VARCHAR",
    "BPCHAR": "VARCHAR",
    "CHARACTER": "VARCHAR",
    "CHARACTER VARYING": "VARCHAR",
    "BOOL": "BOOLEAN",
    "LOGICAL": "BOOLEAN",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "SIGNED": "INTEGER",
    "LONG": "BIGINT",
    "INT8": "BIGINT",
    "REAL": "FLOAT",
    "DOUBLE PRECISION": "DOUBLE",
    "FLOAT4": "FLOAT",
    "FLOAT8": "DOUBLE",
    "NUMERIC": "DECIMAL",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "BYTEA": "BLOB",
    "BINARY": "BLOB",
    "VARBINARY": "BLOB",
}

# Engine types that are stored as a wider storable type; the build casts them.
WIDENED: dict[str, str] = {
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "UTINYINT": "INTEGER",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "INT1": "INTEGER",
    "INT2": "INTEGER",
    "SHORT": "INTEGER",
    "UBIGINT": "DECIMAL(20,0)",
    "HUGEINT": "DECIMAL(38,0)",
    "UHUGEINT": "DECIMAL(38,0)",
    "UUID": "VARCHAR",
    "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_NS": "TIMESTAMP",
    "TIMESTAMP_US": "TIMESTAMP",
}

_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")
_VARCHAR_LENGTH = re.compile(
    r"^(?:VARCHAR|CHAR|STRING|TEXT|CHARACTER|CHARACTER VARYING)\s*\(\s*\d+\s*\)$"
)


@dataclass(frozen=True)
class PhysicalType:
    name: str
    precision: int | None = None
    scale: int | None = None

    @property
    def logical(self) -> str:
        return STORABLE[self.name]

    def __str__(self) -> str:
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        return self.name


def parse_physical_type(text: str) -> PhysicalType:
    """Parse a storable type name; raise ValueError naming the accepted names otherwise."""
    cleaned = " ".join(text.strip().upper().split())
    decimal = _DECIMAL.match(cleaned)
    if decimal:
        precision = int(decimal.group(1))
        scale = int(decimal.group(2) or 0)
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(
                f"type {text!r} is not a valid decimal: precision 1 to 38, scale at most precision"
            )
        return PhysicalType("DECIMAL", precision, scale)
    if _VARCHAR_LENGTH.match(cleaned):
        return PhysicalType("VARCHAR")
    name = _ALIASES.get(cleaned, cleaned)
    if name == "DECIMAL":
        return PhysicalType("DECIMAL", 18, 3)
    if name in STORABLE:
        return PhysicalType(name)
    if name in WIDENED:
        raise ValueError(f"type {text!r} is not stored as such: declare {WIDENED[name]} instead")
    accepted = ", ".join(sorted(STORABLE))
    raise ValueError(f"unknown type {text!r}: use one of {accepted}, or DECIMAL(p,s)")


def storable_type(engine_type: str) -> str | None:
    """The storable type an engine column type is written as, or None if it cannot be stored."""
    cleaned = " ".join(engine_type.strip().upper().split())
    if cleaned in WIDENED:
        return WIDENED[cleaned]
    try:
        return str(parse_physical_type(cleaned))
    except ValueError:
        return None
