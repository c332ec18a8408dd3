"""SQL text for generated queries: identifiers and literal values, quoted safely."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def quote(name: str) -> str:
    """An identifier, double-quoted, so that any column or relation name is safe."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A value as a SQL literal: booleans, numbers, dates, timestamps, lists, structs, else text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        kind = "TIMESTAMP" if value.tzinfo is None else "TIMESTAMPTZ"  # keep the offset
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        # A struct: its keys are literals too, so no key can leave the braces.
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("'", "''") + "'"
