"""Typed events, and the one seam that delivers them: `EventBus.on_event`.

Whatever happens on the mesh that another capability may care about is told here, once:
a product published or failed to, checks run, ports read. Subscribers are plain callables;
the built-in ones (`BUILT_IN_SUBSCRIBERS`: the event history) are registered exactly like
a plugin's, through the entry point group ``quanta.subscribers``: each entry names a
factory that receives the `Mesh` and returns a subscriber, or None to stay out.

Delivery never breaks the work that emitted the event: a subscriber that raises (even
SystemExit; only an interrupt goes on) is logged (its name and the error's type, never the
event's values) and the others still run. Events are frozen, and so is what they hold: a
subscriber cannot change what the ones after it hear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from quanta.model.actor import Actor
from quanta.model.result import Outcome, Trigger
from quanta.model.usage import ReadKind

log = logging.getLogger("quanta.events")


class Event(BaseModel, frozen=True):
    """Something that happened, to whom (``subject``: a product id), when, and by whom."""

    kind: ClassVar[str] = "event"
    subject: str
    actor: Actor
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def payload(self) -> dict[str, Any]:
        """What the event says beyond its kind, subject and time, as JSON values."""
        return self.model_dump(mode="json", exclude={"subject", "at"})


class ProductPublished(Event, frozen=True):
    kind: ClassVar[str] = "product.published"
    version: int
    ports: tuple[str, ...]
    rows: int
    seconds: float


class PublishFailed(Event, frozen=True):
    kind: ClassVar[str] = "product.publish_failed"
    outcome: Outcome
    step: str
    """The publish step that stopped it (`quanta.publishing.pipeline`)."""
    reason: str


class ChecksRun(Event, frozen=True):
    kind: ClassVar[str] = "checks.run"
    version: int | None
    """The published version checked; None for a build not published (yet)."""
    trigger: Trigger
    outcome: Outcome
    counts: tuple[tuple[str, int], ...]
    """How many checks ended in each outcome, as (outcome, count) pairs."""


class PolicyViolated(Event, frozen=True):
    """A policy of the mesh fails on a product being published: it blocks the publish
    (``blocks``), or warns its team (a grace period until a day)."""

    kind: ClassVar[str] = "policy.violated"
    policy: str
    severity: str
    state: str
    blocks: bool
    failing: tuple[str, ...] = ()
    """What fails: ``port orders``, ``column profiles.email``."""


class ChangeBlocked(Event, frozen=True):
    """A publish stopped because a breaking change would break consumers
    (`quanta.lifecycle.impact`): whom, and by which changes."""

    kind: ClassVar[str] = "change.blocked"
    consumers: tuple[str, ...]
    changes: tuple[str, ...]


class LineageDataset(BaseModel, frozen=True):
    """A dataset a build read or wrote: a port at a version, or a source file."""

    name: str
    """``checkout.orders.orders.v1`` (product, port, major), or a source file's path."""
    version: int | None = None
    """The published version that holds it (None: a source file, or not yet known)."""
    columns: tuple[tuple[str, str], ...] = ()
    """(name, type) of each column."""
    file: bool = False


class BuildRun(Event, frozen=True):
    """One build of a publish, for lineage: started, completed (published) or failed.

    Told as plain facts (`quanta.events.lineage` turns them into OpenLineage RunEvents):
    what it read and wrote, what each output column derives from, and its checks."""

    kind: ClassVar[str] = "build.run"
    run: str
    """The run's id (a UUID), the same for its start and its end."""
    state: str
    """``START``, ``COMPLETE`` or ``FAIL``."""
    inputs: tuple[LineageDataset, ...] = ()
    outputs: tuple[LineageDataset, ...] = ()
    derived: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    """(output dataset, output column, ((input dataset, input column), ...))."""
    assertions: tuple[tuple[str, str, str | None, bool], ...] = ()
    """(output dataset, check name, column, passed)."""
    step: str = ""
    """The step a failed build stopped at."""


class ChangeProposed(Event, frozen=True):
    """A breaking change that breaks no consumer's reliance, on its way to publish: told so
    that consumers who rely on it without saying so hear of it."""

    kind: ClassVar[str] = "change.proposed"
    changes: tuple[str, ...]


class PortRead(Event, frozen=True):
    """A published port was bound for reading (`quanta.reading`), at one version."""

    kind: ClassVar[str] = "port.read"
    port: str
    version: int
    columns: tuple[str, ...]
    protected: tuple[str, ...] = ()
    """The columns shown protected (pseudonymized or masked), not as stored."""


class PortServed(Event, frozen=True):
    """A read of a port is done: what was served of it, after the rows were (`PortRead` was
    told when it was bound). Usage metering counts these; a check of a published version
    is not one (it is no consumer's use)."""

    kind: ClassVar[str] = "port.served"
    port: str
    version: int
    read: ReadKind
    rows: int
    """A query's result rows (for each port it read), the table read, or the input port's
    recorded rows for a build."""
    bytes: int
    seconds: float


Subscriber = Callable[[Event], None]
SubscriberFactory = Callable[[Any], Subscriber | None]
"""Called with the `Mesh` when it first emits; returns the subscriber, or None."""


class EventBus:
    """Delivers each event to every subscriber, in the order they subscribed."""

    def __init__(self, load: Callable[[], list[Subscriber]] | None = None) -> None:
        self._subscribers: list[Subscriber] = []
        self._load = load

    def on_event(self, subscriber: Subscriber) -> Subscriber:
        """Subscribe ``subscriber`` to every event; usable as a decorator."""
        self._subscribers.append(subscriber)
        return subscriber

    def emit(self, event: Event) -> None:
        if self._load is not None:
            load, self._load = self._load, None
            # Plugins' subscribers first seen now: a mesh that emits nothing loads none.
            self._subscribers[:0] = load()
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except (Exception, SystemExit) as error:  # a subscriber may not end the work
                name = getattr(subscriber, "__qualname__", type(subscriber).__name__)
                log.warning(
                    "the event subscriber %s failed on %s: %s",
                    name,
                    event.kind,
                    type(error).__name__,
                )
