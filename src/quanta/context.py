"""What every capability works with: the settings, the adapters, the events and the read
path of one mesh. `Mesh` holds one and hands it to the capability it delegates to."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from quanta import registry
from quanta.events import EventBus, Subscriber
from quanta.reading import READ_RULES, ReadPath
from quanta.settings import Settings

Progress = Callable[[str, str], None]
"""Told (product, step) as long work moves on; the CLI shows it."""

if TYPE_CHECKING:
    from quanta.access import Access
    from quanta.build.executor import Executor
    from quanta.engines import Engine, Limits
    from quanta.events.webhooks import Webhooks
    from quanta.governance import Governance
    from quanta.lifecycle.expectations import Consumers
    from quanta.lifecycle.states import Lifecycle
    from quanta.storage import Storage
    from quanta.stores import Stores


class MeshContext:
    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        subscribers: Callable[[], list[Subscriber]] | None = None,
    ) -> None:
        self.settings = settings
        self.stores = stores
        # The plugins' subscribers load when the first event is told, not before.
        self.events = EventBus(subscribers)
        from quanta.access.rules import granted
        from quanta.governance.protection import protected, stored
        from quanta.lifecycle.states import lifecycle_rule

        rules = [granted(self.access), lifecycle_rule(self.lifecycle), protected(self.governance)]
        self.reads = ReadPath(self.events, [*rules, *READ_RULES], stored)

    @cached_property
    def access(self) -> Access:
        """Who may read and decide what (`quanta.access`)."""
        from quanta.access import Access

        return Access(self)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        """Deprecations and retirements (`quanta.lifecycle.states`)."""
        from quanta.lifecycle.states import Lifecycle

        return Lifecycle(self)

    @cached_property
    def consumers(self) -> Consumers:
        """Consumers' expectations of the ports they read (`quanta.lifecycle.expectations`)."""
        from quanta.lifecycle.expectations import Consumers

        return Consumers(self)

    @cached_property
    def webhooks(self) -> Webhooks:
        """Subscriptions to the event log, delivered signed (`quanta.events.webhooks`)."""
        from quanta.events.webhooks import Webhooks

        return Webhooks(self)

    @cached_property
    def governance(self) -> Governance:
        """The federation's policies, protections and audit log (`quanta.governance`)."""
        from quanta.governance import Governance

        return Governance(self)

    # -- adapters, created when first needed: they import heavy libraries ----------------
    @cached_property
    def engine(self) -> Engine:
        engine_class = registry.load("quanta.engines", self.settings.engine)
        home = self.settings.home
        engine: Engine = engine_class(
            home / "extensions",
            memory_limit=self.settings.build_memory_limit,
            threads=self.settings.build_threads,
            # Python transformations hand over their tables as files: the home has room.
            scratch_directory=home / "scratch",
        )
        if hasattr(engine, "keys"):  # it decrypts what the read path shows in clear
            engine.keys = self.governance.keys
        return engine

    @cached_property
    def storage(self) -> Storage:
        storage_class = registry.load("quanta.storage", self.settings.storage)
        # With a catalog URL (PostgreSQL), Iceberg's table pointers live in the same database.
        storage: Storage = storage_class(self.settings.warehouse_path, self.settings.catalog_url)
        return storage

    @cached_property
    def executor(self) -> Executor:
        executor_class = registry.load("quanta.executors", self.settings.executor)
        executor: Executor = executor_class(self)
        return executor

    # -- limits ----------------------------------------------------------------------------
    def query_limits(self, work: str, *, rows: bool = True) -> Limits:
        from quanta.engines import Limits

        return Limits(
            work,
            seconds=self.settings.query_timeout,
            seconds_setting="QUANTA_QUERY_TIMEOUT",
            rows=self.settings.query_max_rows if rows else None,
            rows_setting="QUANTA_QUERY_MAX_ROWS",
            rows_hint="add a LIMIT, or aggregate the rows (GROUP BY)",
        )

    def build_limits(self, work: str, *, rows: bool = True, seconds: float | None = None) -> Limits:
        """A build's limits; its checks share its time (``QUANTA_BUILD_TIMEOUT``): pass
        ``seconds`` for what is left of it."""
        from quanta.engines import Limits

        return Limits(
            work,
            seconds=self.settings.build_timeout if seconds is None else seconds,
            seconds_setting="QUANTA_BUILD_TIMEOUT",
            rows=self.settings.build_max_rows if rows else None,
            rows_setting="QUANTA_BUILD_MAX_ROWS",
        )
