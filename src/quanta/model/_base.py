from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Document(BaseModel):
    """A part of a standard document: camelCase in YAML, snake_case in Python.

    Unknown keys are rejected, as the standards' own schemas do, so that a typo
    is reported at its line instead of being silently ignored.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_document(self) -> dict[str, Any]:
        """The YAML-ready form, with the standard's key names and nothing left unset."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


class OpenDocument(Document):
    """A part whose standard allows more keys than Quanta reads; they are kept as they are."""

    model_config = ConfigDict(extra="allow")


class CustomProperty(Document):
    property: str
    value: Any = None
    description: str | None = None


class AuthoritativeDefinition(OpenDocument):
    type: str
    url: str
