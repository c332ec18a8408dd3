"""SQL text for generated queries: identifiers and literal values, quoted safely."""

from __future__ import annotations

import string
from datetime import date, datetime
from typing import Any


def quote(name: str) -> str:
    """An identifier, double-quoted, so that any column or relation name is safe."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A value as a SQL literal: booleans, numbers, bytes, dates, timestamps, lists, structs,
    else text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        kind = "TIMESTAMP" if value.tzinfo is None else "TIMESTAMPTZ"  # keep the offset
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bytes):
        # Every byte escaped: no byte of the value can end the literal.
        return "'" + "".join(f"\\x{byte:02x}" for byte in value) + "'::BLOB"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        # A struct: its keys are literals too, so no key can leave the braces.
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("'", "''") + "'"


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(name: str) -> str:
    """A name as DuckDB compares names: ASCII letters in any case, every other character as
    it is (Python's lower() would make the Kelvin sign K a k, where DuckDB keeps them apart).
    """
    return name.translate(_ASCII_LOWER)
