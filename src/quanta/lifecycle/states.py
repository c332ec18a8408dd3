"""Deprecating and retiring products, ports and majors, and what that does to the mesh.

- **deprecated**: still served; each query, read and build of it is warned
  (`DeprecatedRead`),
  naming the sunset date and the replacement; new consumers and new grants are refused.
- **retired**: no longer served (the read path refuses it, naming the replacement); its
  metadata, lineage and history stay. Retiring is refused while a consumer's served
  version still reads it, until the sunset date has passed.

Only the owning team deprecates or retires. Publishing a new major version of a port
deprecates the majors before it (`deprecations`), in the publish's own transaction.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from quanta.errors import AccessDenied, NotFound, UserError
from quanta.model.actor import Actor
from quanta.model.lifecycle import LifecycleEntry, State
from quanta.model.names import PortAddress
from quanta.model.relations import Exposed
from quanta.model.result import Validation
from quanta.reading import PublishedPort, ReadRule

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.model.catalog import Version
    from quanta.stores import LifecycleStore
    from quanta.validation.folder import LoadedFolder


DRAFT = "draft"
"""A product whose descriptor says ``status: draft``: only its owners read it."""


class DeprecatedRead(UserWarning):
    """A read or a build of a deprecated product or port: the message says until when, and
    what to read instead."""


def entry_for(entries: Sequence[LifecycleEntry], port: str, major: int) -> LifecycleEntry | None:
    """What was said of ``port`` at ``major``: of that major, else of the port, else of the
    product; None while it is active."""
    covering = [entry for entry in entries if entry.covers(port, major)]
    if not covering:
        return None
    # Retired over deprecated, whatever it covers (retiring a product retires each port
    # deprecated before); then the most specific: a port's major, the port, the product.
    return max(
        covering,
        key=lambda e: (e.state is State.RETIRED, bool(e.port), bool(e.major)),
    )


class Lifecycle:
    def __init__(self, mesh: MeshContext) -> None:
        self.mesh = mesh

    @property
    def store(self) -> LifecycleStore:
        return self.mesh.stores.lifecycle

    def state(self, product: str, port: str, major: int) -> LifecycleEntry | None:
        return entry_for(self.store.entries(product), port, major)

    def deprecate(
        self,
        actor: Actor,
        address: str,
        sunset: date,
        *,
        major: int = 0,
        replacement: str | None = None,
        reason: str = "",
        today: date | None = None,
    ) -> LifecycleEntry:
        """Deprecate ``address`` (``domain.product`` or ``domain.product.port``; ``major``:
        one major of the port, 0 every one) until ``sunset``."""
        product, port = self._target(actor, address, major)
        today = today or datetime.now(UTC).date()
        if sunset < today:
            raise UserError(f"--sunset {sunset.isoformat()} has passed: give a day from today on")
        retired = [
            e
            for e in self.store.entries(product)
            if e.state is State.RETIRED and e.port in ("", port) and e.major in (0, major)
        ]
        if retired:
            raise UserError(f"{retired[0].what} is retired already: it is not served again")
        if replacement:
            self._known(replacement)
        entry = LifecycleEntry(
            product=product,
            port=port,
            major=major,
            state=State.DEPRECATED,
            sunset=sunset,
            replacement=replacement or None,
            by=actor.name,
            at=datetime.now(UTC),
            reason=reason,
        )
        self.store.set(entry)
        return entry

    def retire(
        self, actor: Actor, address: str, *, major: int = 0, today: date | None = None
    ) -> LifecycleEntry:
        """Retire ``address``: refused while a consumer's served version reads it, unless
        its sunset date has passed."""
        product, port = self._target(actor, address, major)
        today = today or datetime.now(UTC).date()
        deprecated = self._deprecation(product, port, major)
        consumers = self.consumers(product, port, major)
        past = (
            deprecated is not None and deprecated.sunset is not None and deprecated.sunset < today
        )
        if consumers and not past:
            named = ", ".join(f"{c} (through its input port {p})" for c, p in consumers)
            when = (
                f"its sunset is {deprecated.sunset.isoformat()}"
                if deprecated is not None and deprecated.sunset is not None
                else "it is not deprecated"
            )
            raise UserError(
                f"{address} still has consumers: {named}; {when}. Deprecate it with a sunset "
                "date (quanta deprecate), and retire it once they moved or the day has passed"
            )
        entry = LifecycleEntry(
            product=product,
            port=port,
            major=major,
            state=State.RETIRED,
            sunset=deprecated.sunset if deprecated is not None else None,
            replacement=deprecated.replacement if deprecated is not None else None,
            by=actor.name,
            at=datetime.now(UTC),
        )
        self.store.set(entry)
        return entry

    def _deprecation(self, product: str, port: str, major: int) -> LifecycleEntry | None:
        """What deprecates the target: said of it, or else of each port (and major) it
        serves, the one that ends last (retiring waits for the latest sunset)."""
        entries = self.store.entries(product)
        exact = [e for e in entries if (e.port, e.major) == (port, major)]
        if exact:
            return exact[0]
        version = self.mesh.stores.catalog.version(product)
        served = [
            (p.port, p.major)
            for p in (version.ports if version is not None else [])
            if port in ("", p.port) and major in (0, p.major)
        ]
        found = [entry_for(entries, name, number) for name, number in served]
        if not found or any(e is None or e.state is not State.DEPRECATED for e in found):
            return None
        return max(found, key=lambda e: e.sunset or date.max)  # type: ignore[union-attr]

    def consumers(self, product: str, port: str, major: int) -> list[tuple[str, str]]:
        """(consuming product, its input port) for each served version reading the target."""
        catalog = self.mesh.stores.catalog
        found = []
        versions: dict[int, Version | None] = {}
        for downstream in catalog.downstream(product):
            if port and downstream.upstream_port != port:
                continue
            number = downstream.upstream_version
            if major and number is not None:
                if number not in versions:
                    versions[number] = catalog.version(product, number)
                read = versions[number]
                published = read.port(downstream.upstream_port) if read is not None else None
                if published is None or published.major != major:
                    continue
            found.append((downstream.product, downstream.port))
        return found

    def deprecations(self, product: str, version: Version, today: date) -> list[LifecycleEntry]:
        """The majors before each major ``version`` serves, deprecated now for the mesh's
        migration window (``QUANTA_MIGRATION_DAYS``) unless something was said of them."""
        catalog = self.mesh.stores.catalog
        entries = self.store.entries(product)
        sunset = today + timedelta(days=self.mesh.settings.migration_days)
        found = []
        for port in version.ports:
            older = {
                p.major
                for served in catalog.versions(product)
                for p in served.ports
                if p.port == port.port and p.major < port.major
            }
            for major in sorted(older):
                if entry_for(entries, port.port, major) is not None:
                    continue
                found.append(
                    LifecycleEntry(
                        product=product,
                        port=port.port,
                        major=major,
                        state=State.DEPRECATED,
                        sunset=sunset,
                        replacement=f"{product}.{port.port} v{port.major}",
                        by="quanta",
                        at=datetime.now(UTC),
                        reason=f"major {port.major} is published",
                    )
                )
        return found

    def _target(self, actor: Actor, address: str, major: int) -> tuple[str, str]:
        try:
            parsed = PortAddress.parse(address)
        except ValueError as error:
            raise UserError(f"{address!r}: {error}") from None
        product = str(parsed.product)
        record = self.mesh.access.require_owner(actor, product)
        port = parsed.port or ""
        version = self.mesh.stores.catalog.version(record.id)
        assert version is not None, "a product in the catalog has a served version"
        ports = {p.port for v in self.mesh.stores.catalog.versions(product) for p in v.ports}
        if port and port not in ports:
            raise NotFound(f"{product} has no port {port!r}: it has {', '.join(sorted(ports))}")
        if major and not port:
            raise UserError("--major names a major version of one port: name the port too")
        if major:
            majors = {
                p.major
                for v in self.mesh.stores.catalog.versions(product)
                for p in v.ports
                if p.port == port
            }
            if major not in majors:
                raise NotFound(f"{address} was never published at major {major}")
        return product, port

    def _known(self, replacement: str) -> None:
        """A replacement names a published product, port, or major of a port."""
        name, _, major = replacement.partition(" v")
        try:
            parsed = PortAddress.parse(name)
        except ValueError as error:
            raise UserError(f"--replacement {replacement!r}: {error}") from None
        product = str(parsed.product)
        versions = self.mesh.stores.catalog.versions(product)
        if not versions:
            raise NotFound(f"--replacement {replacement!r}: there is no product {product}")
        published = {(p.port, p.major) for v in versions for p in v.ports}
        if parsed.port is not None and parsed.port not in {port for port, _ in published}:
            raise NotFound(f"--replacement {replacement!r}: {product} has no port {parsed.port!r}")
        if major:
            if not major.isdigit() or parsed.port is None:
                raise UserError(
                    f"--replacement {replacement!r}: write domain.product.port or "
                    "domain.product.port vN"
                )
            if (parsed.port, int(major)) not in published:
                raise NotFound(
                    f"--replacement {replacement!r}: {product}.{parsed.port} was never "
                    f"published at major {major}"
                )

    def warn(self, ports: Sequence[PublishedPort]) -> list[str]:
        """Warn (`DeprecatedRead`) of each deprecated port read; the warnings, said."""
        said = []
        for port in ports:
            found = self.state(port.product, port.port.port, port.port.major)
            if found is not None and found.state is State.DEPRECATED:
                said.append(found.said())
                warnings.warn(DeprecatedRead(found.said()), stacklevel=3)
        return said

    def check_new_consumers(self, folder: LoadedFolder, validation: Validation) -> None:
        """A product that starts reading a deprecated or retired port is refused: only the
        consumers its served version has keep reading it until its sunset."""
        from quanta.build.inputs import resolve_inputs

        product = folder.product
        if product is None:
            return
        catalog = self.mesh.stores.catalog
        served = catalog.version(str(product.id))
        # What its served version reads, by product, port and major: a consumer switching
        # to another major of a port is a new consumer of that major.
        majors: dict[tuple[str, int], int | None] = {}
        reading = set()
        for use in served.inputs if served else []:
            if use.upstream is None or use.upstream_version is None:
                continue
            key = (use.upstream, use.upstream_version)
            if key not in majors:
                read = catalog.version(use.upstream, use.upstream_version)
                found_port = read.port(use.upstream_port) if read is not None else None
                majors[key] = found_port.major if found_port is not None else None
            reading.add((use.upstream, use.upstream_port, majors[key]))
        resolved = resolve_inputs(product, catalog)
        by_name = {port.names[0][0]: port for port in resolved.upstream}
        for index, port in enumerate(product.descriptor.input_ports):
            upstream = by_name.get(port.name)
            if upstream is None:
                continue
            if (upstream.product, upstream.port.port, upstream.port.major) in reading:
                continue
            found = self.state(upstream.product, upstream.port.port, upstream.port.major)
            if found is None:
                continue
            instead = f"read {found.replacement} instead" if found.replacement else "ask its owners"
            validation.issues.append(
                folder.issue_at(
                    ("inputPorts", index, "contractId"),
                    f"{found.said().split(':')[0]}: it takes no new consumers",
                    instead,
                )
            )


def lifecycle_rule(lifecycle: Lifecycle) -> ReadRule:
    """The read rule: a retired port is refused, naming what to read instead; a draft
    product's ports are its owners' alone."""

    def rule(
        actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]
    ) -> tuple[Exposed, ...]:
        found = lifecycle.state(port.product, port.port.port, port.port.major)
        if found is not None and found.state is State.RETIRED:
            instead = f": read {found.replacement} instead" if found.replacement else ""
            raise UserError(f"{port.address} is retired and no longer served{instead}")
        record = lifecycle.mesh.stores.catalog.product(port.product)
        draft = record is not None and record.status.lower() == DRAFT
        if draft and record is not None and not lifecycle.mesh.access.owns(actor, port.product):
            raise AccessDenied(
                f"{port.product} is a draft: only its owners (team {record.owner}) read it "
                "until it is published with status: active"
            )
        return columns

    return rule
