"""What a product's proposed contracts change of what it serves, and whom that breaks.

Each output port's proposed contract is compared with the one served at the same major
version (`quanta.model.changes`). A breaking change breaks a consumer when it touches what
the consumer relies on: a column it reads (`InputUse.columns`; all of them when unknown),
or the port as a whole (removed, its primary key, a table rule, a service level). A
contract at a major version no version has served yet is published beside the old one:
consumers keep the major they pin, so it breaks nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from quanta.model.catalog import ProductRecord, Version
from quanta.model.changes import Change, Kind, contract_changes
from quanta.model.contract import Contract
from quanta.model.product import DataProduct
from quanta.stores import CatalogStore


@dataclass(frozen=True)
class Consumer:
    """A product whose served version reads the port, through one of its input ports."""

    product: str
    port: str
    """Its input port."""
    owner: str
    """Its owning team."""
    owners: tuple[str, ...]
    """The team's members with the owner role: whom to agree a change with."""
    columns: tuple[str, ...] | None
    """The port's columns it reads; None: unknown, so every one."""

    @property
    def said_owner(self) -> str:
        """``team marketing-analytics: tom.greene@retail.example``"""
        return f"team {self.owner}" + (f": {', '.join(self.owners)}" if self.owners else "")

    def relies_on(self, change: Change) -> bool:
        """Whether ``change`` touches this consumer: a change to a column it reads, or to
        the port as a whole."""
        if change.column is None:
            return True
        return self.columns is None or change.column in self.columns


@dataclass(frozen=True)
class Broken:
    """A consumer, and the breaking changes that touch what it relies on."""

    consumer: Consumer
    changes: tuple[Change, ...]


@dataclass
class PortImpact:
    port: str
    major: int
    served: int | None
    """The version serving this port at this major; None: nothing yet."""
    changes: list[Change] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)
    beside: list[int] = field(default_factory=list)
    """The other majors still served beside a new one (their consumers keep reading them)."""

    @property
    def breaking(self) -> list[Change]:
        return [change for change in self.changes if change.kind is Kind.BREAKING]


@dataclass
class Impact:
    product: str
    ports: list[PortImpact] = field(default_factory=list)

    @property
    def broken(self) -> list[tuple[str, Broken]]:
        """(port, broken consumer) for every consumer a change breaks."""
        return [(port.port, broken) for port in self.ports for broken in port.broken]

    @property
    def unheld(self) -> list[tuple[str, Change]]:
        """Breaking changes that break no consumer: they publish, with a warning."""
        found = []
        for port in self.ports:
            touched = {change for broken in port.broken for change in broken.changes}
            found += [(port.port, change) for change in port.breaking if change not in touched]
        return found


def impact(store: CatalogStore, product: DataProduct) -> Impact:
    """What publishing ``product`` as its folder is now would change, port by port."""
    product_id = str(product.id)
    found = Impact(product_id)
    current = store.version(product_id)
    if current is None:
        return found  # nothing served: nobody relies on it
    consumers = _consumers(store, product_id)
    served_ports = {port.port for port in current.ports}
    for port, proposed in product.contracts.items():
        served = store.latest_with_major(product_id, port, proposed.major)
        published = served.port(port) if served is not None else None
        impact_of = PortImpact(port, proposed.major, served.version if served else None)
        found.ports.append(impact_of)
        if served is None or published is None:
            impact_of.beside = _other_majors(store, product_id, port, proposed.major)
            continue
        try:
            before = Contract.model_validate(published.contract)
        except ValidationError:
            continue  # a contract of an older Quanta: nothing to compare it with
        impact_of.changes = contract_changes(before, proposed)
        impact_of.consumers = consumers.get((port, proposed.major), [])
        _judge(impact_of)
    for port in sorted(served_ports - set(product.contracts)):
        published = current.port(port)
        assert published is not None
        removed = PortImpact(port, published.major, current.version)
        removed.changes = [
            Change(Kind.BREAKING, f"port {port} removed", "port", "a consumer reading it fails")
        ]
        removed.consumers = consumers.get((port, published.major), [])
        _judge(removed)
        found.ports.append(removed)
    return found


def _judge(port: PortImpact) -> None:
    for consumer in port.consumers:
        touched = tuple(c for c in port.breaking if consumer.relies_on(c))
        if touched:
            port.broken.append(Broken(consumer, touched))


def _consumers(store: CatalogStore, product_id: str) -> dict[tuple[str, int], list[Consumer]]:
    """Per (port, major), the products whose served versions read it."""
    found: dict[tuple[str, int], list[Consumer]] = {}
    versions: dict[int, Version | None] = {}
    for downstream in store.downstream(product_id):
        if downstream.upstream_port is None or downstream.upstream_version is None:
            continue
        number = downstream.upstream_version
        if number not in versions:
            versions[number] = store.version(product_id, number)
        read = versions[number]
        published = read.port(downstream.upstream_port) if read is not None else None
        reader = store.version(downstream.product)
        record = store.product(downstream.product)
        if published is None or reader is None or record is None:
            continue
        use = next((u for u in reader.inputs if u.port == downstream.port), None)
        columns = tuple(use.columns) if use is not None and use.columns is not None else None
        found.setdefault((downstream.upstream_port, published.major), []).append(
            Consumer(downstream.product, downstream.port, record.owner, _owners(record), columns)
        )
    return found


def _owners(record: ProductRecord) -> tuple[str, ...]:
    team = record.descriptor.get("team") or {}
    members = team.get("members") or [] if isinstance(team, dict) else []
    return tuple(
        str(member["username"])
        for member in members
        if isinstance(member, dict) and member.get("role") == "owner" and member.get("username")
    )


def _other_majors(store: CatalogStore, product_id: str, port: str, major: int) -> list[int]:
    majors = {p.major for v in store.versions(product_id) for p in v.ports if p.port == port}
    return sorted(majors - {major})


def blocked_reason(found: Impact) -> str:
    """Why the publish stops: each consumer broken, what of theirs breaks, their owner,
    and the ways out."""
    parts = []
    for port, broken in found.broken:
        consumer = broken.consumer
        what = "; ".join(change.what for change in broken.changes)
        parts.append(
            f"{consumer.product} ({consumer.said_owner}) reads {found.product}.{port} "
            f"through its input port {consumer.port}, and {what}"
        )
    majors = sorted({p.major for p in found.ports if p.broken})
    way_out = ", ".join(f"{major + 1}.0.0" for major in majors)
    return (
        "a breaking change would break its consumers: "
        + "; ".join(parts)
        + f". Publish it as a new major version (version {way_out} in the contract: served "
        "beside the old one, which its consumers keep reading), or agree the change with "
        "the consumers' owners and have them stop relying on it first"
    )


def warnings(found: Impact) -> list[str]:
    """Breaking changes no consumer relies on: they publish, said."""
    return [
        f"warning: {found.product}.{port}: {change.what} is breaking ({change.why}), but no "
        "consumer relies on it"
        for port, change in found.unheld
    ]
