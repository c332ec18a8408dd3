"""Every exception Quanta raises on purpose.

A failed check, a refused publish or a broken contract is not an exception: it is an
outcome, returned as data. Exceptions mean a request could not be carried out::

    QuantaError                 anything Quanta raises on purpose
     ├── UserError              the request or its input is wrong; the message says what to do
     │    ├── ConfigError       settings or an adapter name are wrong
     │    ├── NotFound          a product, port or version does not exist
     │    ├── InvalidProduct    a product folder does not validate (carries the issues)
     │    ├── QueryRefused      SQL that reads what it may not, or is not a query
     │    └── AccessDenied      no grant, or not the owner: says whom to ask and how
     └── PlatformError          Quanta itself could not run (storage, engine, catalog)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quanta.model.result import Issue


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class QuantaError(Exception):
    """Base of every exception Quanta raises on purpose."""

    code = "quanta_error"
    exit_code = 1


class UserError(QuantaError):
    code = "user_error"
    exit_code = 2


class ConfigError(UserError):
    code = "config_error"


class NotFound(UserError):
    code = "not_found"


class InvalidProduct(UserError):
    code = "invalid_product"

    def __init__(self, message: str, issues: list[Issue]) -> None:
        super().__init__(message)
        self.issues = issues


class QueryRefused(UserError):
    code = "query_refused"


class PlatformError(QuantaError):
    code = "platform_error"


class AccessDenied(UserError):
    """A read, a decision or a publish the actor has no right to: the message names the
    owner and how to ask for access."""

    code = "access_denied"
