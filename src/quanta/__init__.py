"""Quanta: a self-serve data mesh platform.

>>> import quanta
>>> mesh = quanta.Mesh.open()
>>> mesh.read("sales.daily_revenue")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quanta.errors import (
    AccessDenied,
    ConfigError,
    InvalidProduct,
    NotFound,
    PlatformError,
    QuantaError,
    QueryRefused,
    UserError,
)

if TYPE_CHECKING:
    from quanta.mesh import Mesh

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "ConfigError",
    "InvalidProduct",
    "Mesh",
    "NotFound",
    "PlatformError",
    "QuantaError",
    "QueryRefused",
    "UserError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The facade pulls in pydantic models and SQLAlchemy; load it on first use only.
    if name == "Mesh":
        from quanta.mesh import Mesh

        return Mesh
    raise AttributeError(f"module 'quanta' has no attribute {name!r}")
