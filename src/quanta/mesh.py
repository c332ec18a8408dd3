"""`Mesh`: the one object every shell (CLI, Python, HTTP) talks to.

Each method is a few lines that hand the work to the capability it belongs to:
publishing (`quanta.publishing`), checking (`quanta.quality.checking`), reading
(`quanta.reading`), the catalog's views (`quanta.catalog`). The adapters, the events and
the read path they share live in one `MeshContext`.
"""

from __future__ import annotations

from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta import registry
from quanta.catalog import Lineage, ProductView
from quanta.context import MeshContext, Progress
from quanta.errors import ConfigError, NotFound, UserError
from quanta.events import Subscriber, SubscriberFactory
from quanta.model.actor import Actor, local_user
from quanta.model.catalog import ProductRecord, SearchHit, ServiceLevelStatus
from quanta.model.events import EventRecord
from quanta.model.result import Build, CheckRun, Publication, Validation
from quanta.reading.ports import port_at, product_record
from quanta.settings import Settings, load_settings
from quanta.stores import Stores

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date, datetime

    import pyarrow as pa

    from quanta.build.logs import BuildLogs
    from quanta.engines import Engine
    from quanta.events.webhooks import Round
    from quanta.interop import ContractImport
    from quanta.lifecycle.impact import Impact
    from quanta.model.access import AccessRequest, RequestState
    from quanta.model.audit import AuditVerification
    from quanta.model.concepts import ConceptMap, JoinWarning
    from quanta.model.expectations import Expectation
    from quanta.model.governance import Compliance, Policy
    from quanta.model.lifecycle import LifecycleEntry
    from quanta.model.privacy import Erasure, RetentionRun
    from quanta.model.usage import UsageReport
    from quanta.model.webhooks import Delivery, Webhook
    from quanta.publishing.pipeline import Pipeline
    from quanta.storage import Storage

__all__ = ["Lineage", "Mesh", "ProductView", "Progress"]


def _quiet(_product: str, _step: str) -> None:
    return None


class Mesh:
    """A data mesh at a home folder: its catalog, its warehouse and the engine that runs it.

    >>> mesh = Mesh.open()                            # ./.quanta or $QUANTA_HOME
    >>> mesh.publish("products/checkout/orders")      # validate, build, check, register
    >>> mesh.read("sales.daily_revenue")              # a pyarrow Table

    Every call acts as ``actor`` (by default the local user), or as the actor it is given.
    """

    def __init__(
        self, settings: Settings, *, create: bool = True, actor: Actor | None = None
    ) -> None:
        self.settings = settings
        self.actor = actor or local_user(settings.user)
        home = settings.home
        if not create and settings.catalog_url is None and not (home / "catalog.db").is_file():
            raise NotFound(
                f"there is no mesh at {home}: publish a product or run quanta demo first, "
                "or point --home (QUANTA_HOME) at a mesh"
            )
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot use {home} as the mesh home: {error.strerror}") from None
        store_class = registry.load("quanta.stores", settings.store)
        self.stores: Stores = store_class(settings.catalog)
        self.context = MeshContext(settings, self.stores, self._subscribers)
        if actor is None:  # a service principal when the teams file names one
            self.actor = self.context.access.directory.actor(self.actor.name)

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        *,
        create: bool = True,
        actor: Actor | None = None,
        **settings: Any,
    ) -> Mesh:
        """The mesh at ``home``; with ``create=False`` a missing mesh is an error."""
        if home is not None:
            settings["home"] = Path(home)
        return cls(load_settings(**settings), create=create, actor=actor)

    def close(self) -> None:
        self.stores.close()

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def engine(self) -> Engine:
        return self.context.engine

    @property
    def storage(self) -> Storage:
        return self.context.storage

    @cached_property
    def pipeline(self) -> Pipeline:
        """The publish pipeline: add steps and hooks here (`quanta.publishing.pipeline`)."""
        from quanta.publishing import PUBLISH_STEPS, Pipeline

        return Pipeline(PUBLISH_STEPS)

    def on_event(self, subscriber: Subscriber) -> Subscriber:
        """Deliver every event of this mesh to ``subscriber`` too (`quanta.events`)."""
        return self.context.events.on_event(subscriber)

    def _subscribers(self) -> list[Subscriber]:
        """The subscribers of ``quanta.subscribers``, built-in and plugins' alike."""
        found = []
        for name in sorted(registry.available("quanta.subscribers")):
            factory: SubscriberFactory = registry.load("quanta.subscribers", name)
            subscriber = factory(self)
            if subscriber is not None:
                found.append(subscriber)
        return found

    def _as(self, actor: Actor | None) -> Actor:
        return actor or self.actor

    # -- producing ---------------------------------------------------------------------
    def validate(self, path: str | Path, *, actor: Actor | None = None) -> list[Validation]:
        """Check every product folder at or below ``path``: its files, the catalog, and
        access (that ``actor`` may publish it, and that its inputs are granted to it)."""
        from quanta.publishing import load_batch

        folders = load_batch(self.context, Path(path), self._as(actor))
        return [validation for _, validation in folders]

    def init_product(
        self,
        product: str,
        *,
        blueprint: str = "source",
        inputs: list[str] | None = None,
        directory: str | Path = ".",
    ) -> Path:
        """Scaffold ``directory/domain/product``; inputs seed the contract with their columns."""
        from quanta.scaffold import scaffold

        upstream = {address: port_at(self.stores.catalog, address).port for address in inputs or []}
        return scaffold(product, blueprint, Path(directory), upstream, self.actor.name)

    def init_from_contract(
        self,
        product: str,
        contract: str | Path,
        *,
        directory: str | Path = ".",
        server: str | None = None,
        table: str | None = None,
    ) -> tuple[Path, list[str]]:
        """Scaffold a source-aligned product from a contract written elsewhere: its input
        port reads the files of the contract's server, its output port carries the contract.
        Answers the folder and what the import could not keep."""
        from quanta.scaffold import scaffold_from_contract

        return scaffold_from_contract(
            product,
            Path(contract),
            Path(directory),
            server=server,
            table=table,
            owner=self.actor.name,
        )

    def build(
        self, path: str | Path, progress: Progress = _quiet, *, actor: Actor | None = None
    ) -> list[Build]:
        """Build products into their tables' ``dev`` branch; nothing is published."""
        from quanta.publishing import build_batch

        return build_batch(self.context, Path(path), self._as(actor), progress)

    def check(
        self, target: str | Path, version: int | None = None, *, actor: Actor | None = None
    ) -> list[CheckRun]:
        """Check a published product (``domain.product``) or a folder's last ``dev`` build."""
        from quanta.quality.checking import check_folder, check_published

        if isinstance(target, str) and not Path(target).is_dir():
            if "/" in target or target.startswith("."):
                raise NotFound(
                    f"there is no folder {target}: name a product folder, or a "
                    "published product as domain.product"
                )
            return [check_published(self.context, self._as(actor), target, version)]
        return check_folder(self.context, self._as(actor), Path(target))

    def publish(
        self, path: str | Path, progress: Progress = _quiet, *, actor: Actor | None = None
    ) -> list[Publication]:
        """Validate, build, check and register each product at or below ``path``, in order.

        Each product is published entirely or not at all; one that fails stops the ones
        after it that read it, and the previous version stays the served one.
        """
        from quanta.publishing import publish_batch

        return publish_batch(self.context, self.pipeline, Path(path), self._as(actor), progress)

    def demo(
        self, name: str = "retail", *, scale: float = 1.0, progress: Progress = _quiet
    ) -> tuple[Path, list[Publication]]:
        """Copy an example mesh into the home, generate its source data, publish it all."""
        from quanta.examples import copy_example, example_root, load_example, publish_example

        root = example_root(name)
        example = load_example(root)
        workspace = copy_example(root, self.home / "examples" / name)
        for seed in example.seeds:
            progress(name, f"generating {seed.to}")
            sql = (workspace / seed.sql).read_text(encoding="utf-8")
            self.engine.export(sql, workspace / seed.to, {"scale": scale})
        return workspace, publish_example(self, workspace, example, progress)

    def import_contract(
        self, path: str | Path, out: str | Path
    ) -> tuple[ContractImport, list[Path]]:
        """Convert an ODCS v3 or DCS file into Quanta contracts, one file per table in ``out``.

        Nothing is written when a target file exists already.
        """
        from quanta.catalog.contracts import import_contract

        return import_contract(path, out)

    def export_contract(self, address: str, version: int | None = None) -> dict[str, Any]:
        """An output port's contract, as published, in ODCS v3.1."""
        from quanta.catalog.contracts import export_contract

        return export_contract(self.stores.catalog, address, version)

    # -- consuming ---------------------------------------------------------------------
    def products(self) -> list[ProductRecord]:
        return self.stores.catalog.products()

    def product(self, product_id: str) -> ProductRecord:
        return product_record(self.stores.catalog, product_id)

    def describe(self, product_id: str, *, actor: Actor | None = None) -> ProductView:
        """The product, its versions and service levels, as ``actor`` may see them."""
        from quanta.catalog import describe

        return describe(self.stores, product_id, self.context.reads, self._as(actor))

    def service_levels(self, product_id: str, days: int = 30) -> list[ServiceLevelStatus]:
        """Each measured service level (freshness, completeness), day by day over the last
        ``days``; a day counts as met when every measurement of the level that day passed.
        """
        from quanta.catalog import service_levels

        return service_levels(self.stores, product_id, days)

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        return self.stores.catalog.search(text, limit)

    def impact(self, path: str | Path) -> list[Impact]:
        """What publishing each product folder at or below ``path`` would change of what it
        serves, and which consumers that would break (`quanta.lifecycle.impact`)."""
        from quanta.lifecycle.impact import impact
        from quanta.validation.batch import load_batch

        found = []
        for folder, validation in load_batch(Path(path), self.stores.catalog):
            if folder.product is None:
                first = validation.issues[0]
                raise UserError(f"{first.location()}: {first.message} (run quanta validate {path})")
            found.append(impact(self.stores.catalog, folder.product))
        return found

    def deprecate(
        self,
        address: str,
        sunset: date,
        *,
        major: int = 0,
        replacement: str | None = None,
        reason: str = "",
        actor: Actor | None = None,
    ) -> LifecycleEntry:
        """Deprecate a product, a port or one major of it until ``sunset``, as its owners:
        still served, each read warned, no new consumers or grants."""
        return self.context.lifecycle.deprecate(
            self._as(actor), address, sunset, major=major, replacement=replacement, reason=reason
        )

    def retire(self, address: str, *, major: int = 0, actor: Actor | None = None) -> LifecycleEntry:
        """Stop serving a product, a port or one major of it, as its owners; refused while a
        consumer reads it, until its sunset date has passed."""
        return self.context.lifecycle.retire(self._as(actor), address, major=major)

    def lifecycle(self, product_id: str | None = None) -> list[LifecycleEntry]:
        """What was deprecated or retired, of one product or of all."""
        return self.stores.lifecycle.entries(product_id)

    def events(
        self,
        *,
        product: str | None = None,
        kinds: Sequence[str] = (),
        since: datetime | None = None,
        after: int | None = None,
        limit: int = 1000,
        newest: bool = False,
        actor: Actor | None = None,
    ) -> list[EventRecord]:
        """The mesh's event log as the actor may read it, oldest first: what was published,
        failed, checked, blocked, deprecated, retired, asked for and decided (with
        ``newest``, the last ``limit`` of them). The governance group reads all of it;
        anyone else what concerns them (`quanta.events.audience`)."""
        from quanta.events.audience import heard_by
        from quanta.events.history import fold

        fold(self.home, self.stores.events)
        return self.stores.events.events(
            since=since,
            kinds=kinds,
            subject=product,
            limit=limit,
            after=after,
            newest=newest,
            audience=heard_by(self.context, self._as(actor)),
        )

    def expect(
        self,
        address: str,
        rules: list[dict[str, Any]],
        *,
        for_product: str | None = None,
        actor: Actor | None = None,
    ) -> Expectation:
        """Register what the actor (or ``for_product``, as its owner) needs the port
        ``address`` to hold, checked at each of its producer's publishes; no rules withdraws
        it (`quanta.lifecycle.expectations`)."""
        return self.context.consumers.expect(
            self._as(actor), address, rules, for_product=for_product
        )

    def expectations(self, product: str, port: str | None = None) -> list[Expectation]:
        return self.stores.expectations.expectations(product, port)

    def notifications(self, *, limit: int = 100, actor: Actor | None = None) -> list[EventRecord]:
        """The newest events that concern the actor: of the products its teams own, of
        those it reads through a live grant, of those its own products read, and its own
        access requests."""
        from quanta.events.audience import audience_of
        from quanta.events.history import fold

        fold(self.home, self.stores.events)
        return self.stores.events.events(
            newest=True, limit=limit, audience=audience_of(self.context, self._as(actor))
        )

    def add_webhook(
        self,
        url: str,
        *,
        product: str | None = None,
        domain: str | None = None,
        kinds: list[str] | None = None,
        actor: Actor | None = None,
    ) -> tuple[Webhook, str]:
        """Subscribe ``url`` to the event log (of a product, a domain, or all); the
        subscription and its signing secret, shown this once (`quanta.events.webhooks`)."""
        return self.context.webhooks.add(
            self._as(actor), url, product=product, domain=domain, kinds=kinds
        )

    def remove_webhook(self, webhook_id: int, *, actor: Actor | None = None) -> None:
        self.context.webhooks.remove(self._as(actor), webhook_id)

    def webhooks(self) -> list[Webhook]:
        return self.stores.webhooks.webhooks()

    def deliver_webhooks(self, now: datetime | None = None, *, timeout: float = 10.0) -> Round:
        """Queue the events each subscription has not heard, and try every delivery due
        (each receiver answering within ``timeout`` seconds)."""
        return self.context.webhooks.deliver(now, timeout=timeout)

    def webhook_deliveries(self, webhook_id: int | None = None) -> list[Delivery]:
        """The delivery log, newest first."""
        return self.stores.webhooks.deliveries(webhook_id)

    def lineage(self, product_id: str) -> Lineage:
        from quanta.catalog import lineage

        return lineage(self.stores.catalog, product_id)

    def query(self, sql: str, limit: int | None = None, *, actor: Actor | None = None) -> pa.Table:
        """Run read-only SQL over the served version of the products it names
        (``domain.product``).

        With ``limit``, the first ``limit`` rows, read no further. Without, a result above
        ``QUANTA_QUERY_MAX_ROWS`` rows is refused. A query running longer than
        ``QUANTA_QUERY_TIMEOUT`` seconds is stopped and refused.
        """
        from quanta.reading.serving import query

        return query(self.context, self._as(actor), sql, limit)

    def join_warnings(self, sql: str) -> list[JoinWarning]:
        """The joins of a query that compare columns of different concepts, or different
        identifiers of one, each with the mapping ports to join through
        (`quanta.privacy.joins`). Advice: a query runs whatever they say."""
        from quanta.privacy.joins import join_warnings

        return join_warnings(self.context, sql)

    def concepts(self) -> ConceptMap:
        """Every concept of the mesh: its identifiers, the served columns that carry it and
        the ports that map one identifier to another (`quanta.privacy.concepts`)."""
        from quanta.privacy.concepts import concept_map

        return concept_map(self.context)

    def read(
        self, address: str, version: int | None = None, *, actor: Actor | None = None
    ) -> pa.Table:
        """One output port as an Arrow table: the served version, or a pinned one.

        All its rows; reading longer than ``QUANTA_QUERY_TIMEOUT`` seconds is stopped.
        """
        from quanta.reading.serving import read

        return read(self.context, self._as(actor), address, version)

    # -- access --------------------------------------------------------------------------
    def request_access(
        self,
        target: str,
        purpose: str,
        *,
        days: int = 90,
        columns: list[str] | None = None,
        for_product: str | None = None,
        pii_reason: str | None = None,
        actor: Actor | None = None,
    ) -> AccessRequest:
        """Ask the owners of ``target`` (``domain.product[.port]``) for read access, for
        the actor or for the product ``for_product``, with ``pii_reason`` to read PII in
        clear; see `quanta.access`."""
        return self.context.access.request(
            self._as(actor),
            target,
            purpose,
            days=days,
            columns=columns,
            for_product=for_product,
            pii_reason=pii_reason,
        )

    # -- governance ------------------------------------------------------------------------
    def governance_report(self, *, actor: Actor | None = None) -> tuple[Compliance, bool]:
        """Every policy over every published product, and whether the draft policies'
        findings are in (only for the governance group); see `quanta.governance`."""
        return self.context.governance.compliance(self._as(actor))

    def policies(self) -> tuple[Policy, ...]:
        """The policies in force: the defaults and the governance folder's own."""
        return self.context.governance.rules.policies

    def verify_audit(self) -> AuditVerification:
        """Check the audit log's chain: what was changed, inserted or deleted."""
        return self.context.governance.audit.verify()

    # -- privacy ---------------------------------------------------------------------------
    def erase(
        self,
        concept: str,
        subject_id: str,
        reason: str,
        *,
        identifier: str | None = None,
        actor: Actor | None = None,
    ) -> Erasure:
        """Erase one subject's rows from every version of every product, rebuild what
        derives from them, and return the receipt (`quanta.privacy.erasure`)."""
        from quanta.privacy.erasure import Erasures

        return Erasures(self.context).erase(
            self._as(actor), concept, subject_id, reason, identifier
        )

    def resume_erasure(
        self, erasure_id: str, *, actor: Actor | None = None, skip: Sequence[str] = ()
    ) -> Erasure:
        """Finish an erasure that a kill or a failed rebuild stopped; ``skip``: products
        whose failed rebuild the governance group leaves as it is (on the receipt)."""
        from quanta.privacy.erasure import Erasures

        return Erasures(self.context).run(self._as(actor), erasure_id, skip)

    def erasure(self, erasure_id: str, *, actor: Actor | None = None) -> Erasure:
        """One erasure and its receipt: the governance group's, or the touched products'
        owners'."""
        from quanta.privacy.erasure import Erasures

        return Erasures(self.context).status(self._as(actor), erasure_id)

    def erasures(self, *, actor: Actor | None = None) -> list[Erasure]:
        from quanta.privacy.erasure import Erasures

        return Erasures(self.context).listed(self._as(actor))

    def enforce_retention(
        self,
        product: str | None = None,
        *,
        actor: Actor | None = None,
        now: datetime | None = None,
    ) -> RetentionRun:
        """Delete the rows older than each product's declared retention from every version
        (`quanta.privacy.retention`); ``now`` is for tests."""
        from quanta.privacy.retention import enforce_retention

        return enforce_retention(self.context, self._as(actor), product, now=now)

    def approve_access(
        self,
        request_id: int,
        note: str | None = None,
        *,
        clear_pii: bool = False,
        actor: Actor | None = None,
    ) -> AccessRequest:
        """Approve a pending request: only the owning team (or the governance group,
        where the teams file lets it) may; ``clear_pii`` approves the PII in clear it
        asked for."""
        return self.context.access.approve(self._as(actor), request_id, note, clear_pii=clear_pii)

    def deny_access(
        self, request_id: int, note: str | None = None, *, actor: Actor | None = None
    ) -> AccessRequest:
        return self.context.access.deny(self._as(actor), request_id, note)

    def revoke_access(
        self, request_id: int, note: str | None = None, *, actor: Actor | None = None
    ) -> AccessRequest:
        """End a grant: its owners, the governance group where allowed, or its consumer."""
        return self.context.access.revoke(self._as(actor), request_id, note)

    def access_inbox(self, *, actor: Actor | None = None) -> list[AccessRequest]:
        """The pending requests the actor may decide."""
        return self.context.access.inbox(self._as(actor))

    def access_requests(
        self,
        *,
        product: str | None = None,
        consumer: str | None = None,
        states: list[RequestState] | None = None,
    ) -> list[AccessRequest]:
        """Requests and grants by product or by consumer, with who decided what and when."""
        return self.context.access.requests(product=product, consumer=consumer, states=states)

    # -- usage ---------------------------------------------------------------------------
    def usage(
        self,
        product: str | None = None,
        *,
        by: str = "consumer",
        days: int = 30,
        actor: Actor | None = None,
    ) -> UsageReport:
        """Who read ``product`` (every product when None) over the last ``days`` days, how
        much and when: summed ``by`` consumer or by day (`quanta.catalog.usage`). A product's
        usage is its owners' to see; the whole mesh's, the governance group's."""
        from quanta.catalog.usage import usage_report

        allowed = partial(self.context.access.require_usage, self._as(actor))
        return usage_report(self.stores, self.home, product, by, days, allowed)

    # -- build logs ----------------------------------------------------------------------
    def logs(
        self, product: str, build: int | None = None, *, actor: Actor | None = None
    ) -> BuildLogs:
        """The log of ``product``'s last build, or of build number ``build``, and the list
        of its logged builds (`quanta.build.logs`)."""
        from quanta.build.logs import read_logs

        self.context.access.require_builder(self._as(actor), product)
        return read_logs(self.home, product, build)
