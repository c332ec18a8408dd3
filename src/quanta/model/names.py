"""Names of domains, products and ports, and the addresses built from them.

A product is addressed as ``domain.product`` and one of its output ports as
``domain.product.port``. Every part is a lowercase identifier, which keeps names
safe as SQL identifiers, Iceberg namespaces and folder names alike (no ``../``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# DuckDB already uses these catalog names; a domain cannot take them.
# A product or port cannot be "main": products are served as domain.main.product.
RESERVED_NAMES = frozenset({"main", "information_schema", "pg_catalog"})
RESERVED_DOMAINS = frozenset(
    {"main", "memory", "system", "temp", "information_schema", "pg_catalog"}
)


def new_name_problem(name: str, what: str) -> str | None:
    """Why a product or output port cannot take ``name`` now (`name_problem`, and more).

    A port's table is named product__port__vN: with ``__`` inside names, two products
    could share one table (x__y with port z, and x with port y__z). Products published
    before this rule keep their names; validation refuses a table they would share.
    """
    problem = name_problem(name, what)
    if problem is None and "__" in name:
        return (
            f"{what} {name!r} has two underscores in a row, which Quanta uses to join names: "
            "use single underscores"
        )
    return problem


def name_problem(name: str, what: str = "name") -> str | None:
    """Why ``name`` cannot name a domain, product or port, or None when it can."""
    if NAME_PATTERN.fullmatch(name):
        if name in RESERVED_NAMES and what != "domain":
            return f"{what} {name!r} is reserved: choose another name"
        return None
    return (
        f"{what} {name!r} is not allowed: use lowercase letters, digits and underscores, "
        "starting with a letter (at most 63 characters)"
    )


@dataclass(frozen=True, order=True)
class ProductId:
    domain: str
    name: str

    @classmethod
    def parse(cls, text: str) -> ProductId:
        """Parse ``domain.product`` (``domain/product`` is accepted too, as in folder paths)."""
        parts = text.replace("/", ".").split(".")
        if len(parts) != 2:
            raise ValueError(f"{text!r} is not a product id: write it as domain.product")
        domain, name = parts
        for part, what in ((domain, "domain"), (name, "product name")):
            problem = name_problem(part, what)
            if problem:
                raise ValueError(problem)
        if domain in RESERVED_DOMAINS:
            raise ValueError(f"domain {domain!r} is reserved: choose another domain name")
        if name in RESERVED_NAMES:
            raise ValueError(f"product name {name!r} is reserved: choose another name")
        return cls(domain, name)

    def __str__(self) -> str:
        return f"{self.domain}.{self.name}"


@dataclass(frozen=True, order=True)
class PortAddress:
    """An output port of a product: ``domain.product.port``."""

    product: ProductId
    port: str | None = None

    @classmethod
    def parse(cls, text: str) -> PortAddress:
        parts = text.split(".")
        if len(parts) == 3:
            problem = name_problem(parts[2], "port name")
            if problem:
                raise ValueError(problem)
            return cls(ProductId.parse(".".join(parts[:2])), parts[2])
        return cls(ProductId.parse(text))

    def __str__(self) -> str:
        return f"{self.product}.{self.port}" if self.port else str(self.product)


def told_names(names: list[str], code: str | None) -> str:
    """Names a product's code chose (ports it returned, columns it made), as a message may
    tell them: those its code spells out, by name; the others only counted, since code can
    make a name out of a value of its data (``{name: ... for name in values}``)."""
    written = [name for name in names if code is not None and name and name in code]
    others = len(names) - len(written)
    if not names:
        return "none"
    told = repr(written) if written else ""
    if others:
        counted = f"{others} name{'s' if others > 1 else ''} not written in its code"
        told = f"{told} and {counted}" if told else counted
    return told
