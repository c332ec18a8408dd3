"""What a consumer needs of a port beyond its contract: rules it registered, checked on
each of the producer's publishes as the contract's own are."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Expectation(BaseModel):
    """Rules (ODCS quality rules; one naming a ``column`` is that column's) that
    ``consumer`` (a product, or a person) needs ``product.port`` at ``major`` to hold."""

    id: int = 0
    product: str
    port: str
    major: int
    consumer: str
    """A product id (declared on its input port, ``expects``) or a user's name."""
    by: str
    """Who registered it."""
    rules: list[dict[str, Any]] = Field(default_factory=list)
    at: datetime
