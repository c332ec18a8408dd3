"""Access owned by domains: requests, decisions, grants, and who may read what.

The domain that owns a product decides who reads it. A reader asks with a request (a
purpose, a number of days, perhaps some columns), for itself or for a product it builds;
the owning team approves or denies it, or one of the product's own auto-approval rules
does; an approved request is a grant until it expires or is revoked. Every step is kept
with who and when (`quanta.stores.AccessStore`, and the event history).

The read path asks `Access.columns_for` for every port it binds (`quanta.access.rules`):
owners read their own products, public ports are read by everyone, anyone else needs a
live grant. Publishing asks `quanta.access.publishing` who may publish a product and
whether its inputs are granted to it.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.access.identities import Directory, load_teams
from quanta.errors import AccessDenied, NotFound, UserError
from quanta.model.access import (
    DEFAULT_DAYS,
    MAX_DAYS,
    AccessRequest,
    AccessRules,
    RequestState,
    access_rules,
    purpose_problem,
)
from quanta.model.actor import ANONYMOUS, Actor, ActorKind, product_actor
from quanta.model.catalog import PortVersion, ProductRecord
from quanta.model.contract import PRIVATE
from quanta.model.names import PortAddress, ProductId

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.model.product import DataProduct

__all__ = ["Access", "AccessRequest", "RequestState"]


def _now() -> datetime:
    return datetime.now(UTC)


class Access:
    """The access capability of one mesh."""

    def __init__(self, context: MeshContext) -> None:
        self.context = context
        self.store = context.stores.access
        self.catalog = context.stores.catalog
        self._directory: Directory | None = None
        self._stamp: tuple[float, int] | None = None

    @property
    def directory(self) -> Directory:
        """Who is who, read anew whenever the teams file changes."""
        settings = self.context.settings
        path = Path(settings.teams_file or settings.home / "teams.yaml")
        try:
            stat = path.stat()
            stamp: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
        except OSError:
            stamp = None
        if self._directory is None or stamp != self._stamp:
            self._directory = Directory(load_teams(path), self.catalog)
            self._stamp = stamp
        return self._directory

    def reload(self) -> None:
        """Read the teams file anew when it is next needed."""
        self._directory = None

    def reader(self, product: DataProduct | ProductRecord, purpose: str) -> Actor:
        """``product`` as the actor its build or checks read as: its team and owners."""
        if isinstance(product, ProductRecord):
            return product_actor(product.id, purpose, product.owner, self.directory.owners(product))
        descriptor = product.descriptor
        members = self.directory.members(descriptor.owner, descriptor.to_document())
        return product_actor(str(product.id), purpose, descriptor.owner, members)

    # -- reading -------------------------------------------------------------------------
    def columns_for(self, actor: Actor, product_id: str, port: PortVersion) -> set[str] | None:
        """The columns of ``port`` that ``actor`` may read (None: all of them); raises
        `AccessDenied` naming the owner and how to ask when it may read none."""
        record = self.catalog.product(product_id)
        if record is None:
            raise NotFound(f"there is no product {product_id}")
        if self.directory.owns(actor, record):
            return None
        private = {column.name for column in port.columns if _private(column.classification)}
        if access_rules(record.descriptor).is_public(port.port) and not private:
            return None  # a version that held private columns is never public
        grants = [g for g in self._grants_of(actor, product_id) if g.covers(port.port)]
        now = _now()
        live = [grant for grant in grants if grant.live(now)]
        if not live:
            raise AccessDenied(self._denial(actor, record, port.port, grants))
        everything = {column.name for column in port.columns}
        allowed: set[str] = set()
        for grant in live:
            granted = everything if grant.columns is None else set(grant.columns)
            # A grant approved for holding no PII never covers columns classified later.
            allowed |= granted - private if grant.without_private else granted
        return None if allowed >= everything else allowed

    def owns(self, actor: Actor, product_id: str) -> bool:
        """Whether ``actor`` is one of the product's owners (or the product itself)."""
        record = self.catalog.product(product_id)
        return record is not None and self.directory.owns(actor, record)

    def clear_for(self, actor: Actor, product_id: str, port: str) -> bool:
        """Whether ``actor`` reads the PII of ``port`` in clear: its owners do, and readers
        whose live grant the owners approved for PII in clear."""
        record = self.catalog.product(product_id)
        if record is None:
            return False
        if self.directory.owns(actor, record):
            return True
        now = _now()
        return any(
            grant.clear_pii
            and grant.covers(port)
            and grant.live(now)
            and self._clear_purpose(grant.purpose)  # the folder may have withdrawn it
            for grant in self._grants_of(actor, product_id)
        )

    def _clear_purpose(self, purpose: str) -> bool:
        """Whether the governance folder allows PII in clear for ``purpose`` now."""
        allowed = self.context.governance.rules.config.clear_pii.purposes
        return allowed is None or purpose.strip().casefold() in {
            item.strip().casefold() for item in allowed
        }

    def _grants_of(self, actor: Actor, product_id: str) -> list[AccessRequest]:
        if actor.name == ANONYMOUS:
            return []
        found = self.store.requests(
            product=product_id, consumer=actor.name, states=[RequestState.APPROVED]
        )
        if actor.kind != ActorKind.PRODUCT:
            return [g for g in found if g.consumer_kind != ActorKind.PRODUCT]
        # A grant to a product holds while whoever asked for it is one of its owners: a
        # product published later under the same id by another team does not inherit it.
        return [
            g
            for g in found
            if g.consumer_kind == ActorKind.PRODUCT and g.requested_by in actor.owners
        ]

    def _denial(
        self, actor: Actor, record: ProductRecord, port: str, grants: list[AccessRequest]
    ) -> str:
        target = f"{record.id}.{port}"
        owner = f"team {record.owner}" + (f" ({record.contact})" if record.contact else "")
        expired = [grant for grant in grants if grant.expires_at is not None]
        if expired:
            last = max(expired, key=lambda grant: grant.expires_at or _now())
            assert last.expires_at is not None
            why = f"its grant {last.id} expired on {last.expires_at:%Y-%m-%d}"
        elif actor.name == ANONYMOUS:
            why = "the anonymous identity reads only public ports: set QUANTA_USER"
        else:
            why = "it has no grant"
        asking = f" --for {actor.name}" if actor.kind == ActorKind.PRODUCT else ""
        return (
            f"{actor} may not read {target}: {why}. It is owned by {owner}; ask for access "
            f'with: quanta access request {target}{asking} --purpose "..."'
        )

    # -- asking --------------------------------------------------------------------------
    def request(
        self,
        actor: Actor,
        target: str,
        purpose: str,
        *,
        days: int = DEFAULT_DAYS,
        columns: list[str] | None = None,
        for_product: str | None = None,
        pii_reason: str | None = None,
    ) -> AccessRequest:
        """Ask to read ``target`` (``domain.product`` or ``domain.product.port``), for
        ``actor`` or for the product ``for_product``; approved at once when one of the
        product's auto-approval rules allows it. With ``pii_reason``, it asks to read PII
        in clear too: only the owners approve that, never a rule."""
        self.expire()
        if actor.name == ANONYMOUS:
            raise AccessDenied("the anonymous identity cannot ask for access: set QUANTA_USER")
        problem = purpose_problem(purpose)
        if problem:
            raise UserError(f"--purpose is not valid: {problem}")
        if not 1 <= days <= MAX_DAYS:
            raise UserError(f"--days must be between 1 and {MAX_DAYS}, not {days}")
        pii_reason = self._pii_reason(pii_reason, purpose)
        self._refuse_ended(target)
        record, ports = self._target(target)
        port_name = ports[0].port if len(ports) == 1 and target.count(".") == 2 else None
        columns = self._columns(target, ports, columns)
        consumer, kind = self._consumer(actor, for_product, record)
        if kind == ActorKind.USER and self.directory.owns(actor, record):
            raise UserError(f"{actor.name} owns {record.id} already: no grant is needed")
        pending = [
            r
            for r in self.store.requests(
                product=record.id, consumer=consumer, states=[RequestState.PENDING]
            )
            if r.port == port_name and r.consumer_kind == kind
        ]
        if pending:
            raise UserError(
                f"request {pending[0].id} for {pending[0].target} is already waiting for "
                f"team {record.owner}: see quanta access list --consumer {consumer}"
            )
        now = _now()
        request = AccessRequest(
            id=0,
            product=record.id,
            port=port_name,
            consumer=consumer,
            consumer_kind=kind,
            requested_by=actor.name,
            purpose=purpose.strip(),
            days=days,
            columns=columns,
            pii_reason=pii_reason,
            requested_at=now,
        )
        rules = access_rules(record.descriptor)
        rule = None if pii_reason else self._auto_approval(rules, request, record, ports)
        if rule is not None:
            request = request.model_copy(
                update={
                    "without_private": rules.auto_approve[rule].without_pii,
                    "state": RequestState.APPROVED,
                    "decided_by": f"auto-approval rule {rule + 1} of {record.id}",
                    "decided_at": now,
                    "expires_at": now + timedelta(days=days),
                }
            )
        return self.store.add(request)

    def _pii_reason(self, reason: str | None, purpose: str) -> str | None:
        """The reason to read PII in clear, checked; the governance folder may allow it
        for some purposes only."""
        if reason is None:
            return None
        problem = purpose_problem(reason)
        if problem:
            raise UserError(f"--pii is not valid: {problem.replace('the data', 'PII in clear')}")
        allowed = self.context.governance.rules.config.clear_pii.purposes
        if allowed is not None and not self._clear_purpose(purpose):
            raise UserError(
                "the governance folder allows PII in clear only for the purposes "
                + "; ".join(repr(item) for item in allowed)
                + ": ask without --pii to read it pseudonymized"
            )
        return reason.strip()

    def _target(self, target: str) -> tuple[ProductRecord, list[PortVersion]]:
        parts = target.split(".")
        if len(parts) not in (2, 3):
            raise UserError(
                f"{target!r} is not a product or a port: write domain.product or "
                "domain.product.port"
            )
        product_id = ".".join(parts[:2])
        try:
            ProductId.parse(product_id)
        except ValueError as error:
            raise UserError(f"{target!r} is not a product: {error}") from None
        record = self.catalog.product(product_id)
        version = self.catalog.version(product_id) if record else None
        if record is None or version is None:
            raise NotFound(
                f"there is no published product {product_id}: find one with quanta search"
            )
        if len(parts) == 2:
            return record, list(version.ports)
        ports = [port for port in version.ports if port.port == parts[2]]
        if not ports:
            names = ", ".join(port.port for port in version.ports)
            raise NotFound(f"{product_id} has no output port {parts[2]!r}: its ports are {names}")
        return record, ports

    @staticmethod
    def _columns(
        target: str, ports: list[PortVersion], columns: list[str] | None
    ) -> list[str] | None:
        if not columns:
            return None
        if len(ports) != 1:
            names = ", ".join(port.port for port in ports)
            raise UserError(
                f"--columns needs one port: ask for {target}.<port> (its ports: {names})"
            )
        known = [column.name for column in ports[0].columns]
        unknown = [column for column in columns if column not in known]
        if unknown:
            raise UserError(
                f"{target} has no column {unknown[0]!r}: its columns are {', '.join(known)}"
            )
        return sorted(set(columns), key=known.index)

    def _consumer(
        self, actor: Actor, for_product: str | None, record: ProductRecord
    ) -> tuple[str, ActorKind]:
        if for_product is None:
            return actor.name, self.directory.actor(actor.name).kind
        try:
            ProductId.parse(for_product)
        except ValueError as error:
            raise UserError(f"--for {for_product!r} is not a product id: {error}") from None
        if for_product == record.id:
            raise UserError(f"{record.id} reads itself: no grant is needed")
        consumer = self.catalog.product(for_product)
        if consumer is not None and actor.name not in self.directory.owners(consumer):
            raise AccessDenied(
                f"only the members of team {consumer.owner} may ask for access for "
                f"{for_product}; {actor.name} is not one"
            )
        if consumer is None and not self.directory.in_domain(actor, for_product.split(".")[0]):
            raise AccessDenied(
                f"{actor.name} is not a member of a team of domain {for_product.split('.')[0]}:"
                f" only they may ask for access for {for_product}"
            )
        return for_product, ActorKind.PRODUCT

    def _auto_approval(
        self,
        rules: AccessRules,
        request: AccessRequest,
        record: ProductRecord,
        ports: list[PortVersion],
    ) -> int | None:
        for index, rule in enumerate(rules.auto_approve):
            if rule.same_domain and not self._same_domain(request, record.domain):
                continue
            if rule.without_pii and _reads_private(ports, request.columns):
                continue
            if rule.purposes is not None and request.purpose.casefold() not in {
                purpose.strip().casefold() for purpose in rule.purposes
            }:
                continue
            if rule.max_days is not None and request.days > rule.max_days:
                continue
            return index
        return None

    def _same_domain(self, request: AccessRequest, domain: str) -> bool:
        if request.consumer_kind == ActorKind.PRODUCT:
            return request.consumer.split(".")[0] == domain
        return any(
            request.consumer in self.directory.owners(record)
            for record in self.catalog.products()
            if record.domain == domain
        )

    # -- deciding ------------------------------------------------------------------------
    def approve(
        self,
        actor: Actor,
        request_id: int,
        note: str | None = None,
        *,
        clear_pii: bool = False,
    ) -> AccessRequest:
        """Approve a request; ``clear_pii`` also approves the PII in clear it asked for
        (without it, the grant reads PII as the governance folder protects it)."""
        return self._decide(actor, request_id, RequestState.APPROVED, note, clear_pii)

    def deny(self, actor: Actor, request_id: int, note: str | None = None) -> AccessRequest:
        return self._decide(actor, request_id, RequestState.DENIED, note)

    def _decide(
        self,
        actor: Actor,
        request_id: int,
        state: RequestState,
        note: str | None,
        clear_pii: bool = False,
    ) -> AccessRequest:
        self.expire()
        request = self._request(request_id)
        record = self._may_decide(actor, request, "approve or deny")
        # The governance group decides others' requests: its own would make a reader of
        # whoever decides. An owner reads the product anyway.
        mine = actor.name in (request.requested_by, request.consumer)
        if mine and actor.name not in self.directory.owners(record):
            raise AccessDenied(
                f"{actor.name} asked for request {request.id}: another member of the "
                "owning team decides it"
            )
        if request.state != RequestState.PENDING:
            raise UserError(f"request {request.id} is {_said(request)}: it cannot be decided again")
        if clear_pii and request.pii_reason is None:
            raise UserError(
                f"request {request.id} did not ask for PII in clear: approve it without "
                "--pii, and its consumer asks anew with --pii REASON if it needs to"
            )
        if clear_pii and actor.name not in self.directory.owners(record):
            raise AccessDenied(
                f"only the members of team {record.owner}, which owns {record.id}, approve "
                "PII in clear; approve without --pii, or ask them"
            )
        if clear_pii and not self._clear_purpose(request.purpose):
            raise UserError(
                f"the governance folder no longer allows PII in clear for the purpose of "
                f"request {request.id}: approve it without --pii"
            )
        note = _checked_note(note)
        now = _now()
        expires = now + timedelta(days=request.days) if state == RequestState.APPROVED else None
        decided = self.store.decide(
            request.id, state, actor.name, note, now, expires, clear_pii=clear_pii
        )
        if decided is None:
            raise UserError(f"request {request.id} was decided meanwhile: see quanta access list")
        return decided

    def revoke(self, actor: Actor, request_id: int, note: str | None = None) -> AccessRequest:
        self.expire()
        request = self._request(request_id)
        gives_up = actor.name == request.consumer and (
            (actor.kind == ActorKind.PRODUCT) == (request.consumer_kind == ActorKind.PRODUCT)
        )
        if not gives_up:
            self._may_decide(actor, request, "revoke")
        if request.state != RequestState.APPROVED:
            raise UserError(
                f"request {request.id} is {_said(request)}: there is no grant to revoke"
            )
        revoked = self.store.revoke(request.id, actor.name, _checked_note(note), _now())
        if revoked is None:
            raise UserError(f"grant {request.id} ended meanwhile: see quanta access list")
        return revoked

    def _request(self, request_id: int) -> AccessRequest:
        request = self.store.request(request_id)
        if request is None:
            raise NotFound(f"there is no access request {request_id}: see quanta access list")
        return request

    def _may_decide(self, actor: Actor, request: AccessRequest, what: str) -> ProductRecord:
        record = self.catalog.product(request.product)
        if record is None:
            raise NotFound(f"there is no product {request.product}")
        if actor.kind in (ActorKind.USER, ActorKind.SERVICE) and (
            actor.name in self.directory.owners(record) or self.directory.decides_for_all(actor)
        ):
            return record
        raise AccessDenied(
            f"only the members of team {record.owner}, which owns {record.id}, may {what} "
            f"request {request.id}; {actor.name} is not one"
        )

    # -- listing -------------------------------------------------------------------------
    def inbox(self, actor: Actor) -> list[AccessRequest]:
        """The pending requests ``actor`` may decide."""
        self.expire()
        pending = self.store.requests(states=[RequestState.PENDING])
        everything = self.directory.decides_for_all(actor)
        owned: dict[str, bool] = {}
        shown = []
        for request in pending:
            if request.product not in owned:
                record = self.catalog.product(request.product)
                owned[request.product] = record is not None and (
                    everything or actor.name in self.directory.owners(record)
                )
            if owned[request.product]:
                shown.append(request)
        return shown

    def requests(
        self,
        *,
        product: str | None = None,
        consumer: str | None = None,
        states: list[RequestState] | None = None,
    ) -> list[AccessRequest]:
        """Requests and grants, per product or per consumer: who may read what, and why."""
        self.expire()
        if product is not None and self.catalog.product(product) is None:
            raise NotFound(f"there is no product {product}: find one with quanta search")
        return self.store.requests(product=product, consumer=consumer, states=states or ())

    def expire(self) -> list[AccessRequest]:
        """Record the grants whose time is over as expired."""
        return self.store.expire(_now())

    def built_dev(self, actor: Actor, product: DataProduct) -> None:
        """Remember that ``actor`` built ``product``'s dev branch, for its team."""
        descriptor = product.descriptor
        members = self.directory.members(descriptor.owner, descriptor.to_document())
        self.store.record_dev_build(
            str(product.id), descriptor.owner, sorted(members | {actor.name}), actor.name, _now()
        )

    def require_usage(self, actor: Actor, product_id: str | None) -> None:
        """Refuse ``actor`` the usage of ``product_id`` (of the whole mesh when None)
        unless it owns it (or is in the governance group)."""
        if actor.name in self.directory.governance():
            return
        if product_id is None:
            raise AccessDenied(
                "the usage of the whole mesh is the governance group's to see: name a "
                "product of your team (quanta usage domain.product)"
            )
        self.require_owner(actor, product_id)

    def require_builder(self, actor: Actor, product_id: str) -> None:
        """Refuse ``actor`` what only the product's team may see (its build logs): the
        owners of a published product, the team that built an unpublished one's dev branch."""
        if self.catalog.product(product_id) is not None:
            self.require_owner(actor, product_id)
            return
        built = self.store.dev_build(product_id)
        if built is not None and actor.name not in built[1]:
            raise AccessDenied(
                f"only the members of team {built[0]} may see this of {product_id}; "
                f"{actor.name} is not one"
            )

    def _refuse_ended(self, target: str) -> None:
        """No new grant of a deprecated or retired product or port: its consumers move on."""
        from quanta.lifecycle.states import entry_for

        try:
            address = PortAddress.parse(target)
        except ValueError:
            return  # the request's own checks say what is wrong with it
        entries = self.context.stores.lifecycle.entries(str(address.product))
        version = self.catalog.version(str(address.product))
        if not entries or version is None:
            return
        ports = [p for p in version.ports if address.port in (None, p.port)]
        for port in ports:
            found = entry_for(entries, port.port, port.major)
            if found is not None:
                instead = f"; ask for {found.replacement} instead" if found.replacement else ""
                raise UserError(f"{found.said().split(':')[0]}: it takes no new grants{instead}")

    def require_owner(self, actor: Actor, product_id: str) -> ProductRecord:
        """The product, when ``actor`` is one of its owners; else `AccessDenied`."""
        record = self.catalog.product(product_id)
        if record is None:
            raise NotFound(f"there is no product {product_id}: find one with quanta search")
        if not self.directory.owns(actor, record):
            raise AccessDenied(
                f"only the members of team {record.owner} may see this of {record.id}; "
                f"{actor.name} is not one"
            )
        return record


def _private(classification: str | None) -> bool:
    return (classification or "").lower() in PRIVATE


def _reads_private(ports: list[PortVersion], columns: list[str] | None) -> bool:
    for port in ports:
        for column in port.columns:
            if _private(column.classification) and (columns is None or column.name in columns):
                return True
    return False


def _checked_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    text = note.strip()
    if len(text) > 2000:
        raise UserError("--note has at most 2000 characters")
    if any(unicodedata.category(character)[0] == "C" for character in text):
        raise UserError("--note is one line of text, without control characters")
    return text


def _said(request: AccessRequest) -> str:
    when = request.closed_at or request.decided_at
    by = request.closed_by or request.decided_by
    if when is None:
        return request.state.value
    return f"{request.state.value} by {by} on {when:%Y-%m-%d}"
