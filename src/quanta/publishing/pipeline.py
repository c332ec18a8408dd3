"""A publish is a pipeline of named steps over one `PublishContext`.

Each step is a plain function of the context, run in order; a step, or a hook around it,
ends the publish by calling `PublishContext.stop` with the outcome and the reason. New
capabilities plug in without touching this module: `Pipeline.insert` adds a step (a
governance policy check after ``validate``, a consumer-contract check before
``register``), `Pipeline.before`/`Pipeline.after` add hooks (lineage emission after
``promote``).

Whatever stops a publish before it registers, or breaks inside a step, the tables it
staged are discarded: the served version stays what it was. A `QuantaError` from a step
means the publish could not be carried out and goes up to the caller; any other exception
is a fault of the platform or a plugin, never a user's failure: `Outcome.ERROR`, naming
the step.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quanta.context import Progress
from quanta.errors import QuantaError
from quanta.model.actor import Actor
from quanta.model.result import Build, Check, CheckRun, Outcome, Publication, Validation

if TYPE_CHECKING:
    from quanta.build.inputs import ResolvedInputs
    from quanta.build.transform import Code
    from quanta.context import MeshContext
    from quanta.model.contract import Contract
    from quanta.model.product import DataProduct
    from quanta.storage import StagedTable

log = logging.getLogger("quanta.publishing")


@dataclass
class PublishContext:
    """One product on its way through the pipeline: what each step found so far."""

    mesh: MeshContext
    product: DataProduct
    validation: Validation
    actor: Actor
    branch: str
    progress: Progress
    run: str = field(default_factory=lambda: str(uuid.uuid4()))
    """The build's run id, for lineage (`quanta.events.BuildRun`)."""
    blocked: list[str] = field(default_factory=list)
    """Products of the same batch this one reads that did not publish."""
    started: float = field(default_factory=time.perf_counter)
    inputs: ResolvedInputs | None = None
    code: Code | None = None
    contracts: dict[str, Contract] = field(default_factory=dict)
    """The output ports' contracts as built: each column classified at least as strictly
    as what it derives from (`quanta.governance.inherit`)."""
    encrypted: dict[str, list[str]] = field(default_factory=dict)
    """Per output port, the columns stored encrypted."""
    scopes: dict[str, dict[str, str]] = field(default_factory=dict)
    copies: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    """Per port, the columns that copy an identifier without naming it (`Inherited`)."""
    pseudonyms: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per port, the columns that hold pseudonyms of a scope (`Inherited`)."""
    """Per output port, what each private column's pseudonyms are keyed for."""
    build: Build | None = None
    """The build's record, from the step that starts the build on."""
    staged: dict[str, StagedTable] = field(default_factory=dict)
    schema_checked: bool = True
    """Whether the build checked its outputs' columns before writing them (see
    `quanta.build.executor.BuildResult`); if not, the check step does."""
    checks: list[Check] = field(default_factory=list)
    version: int | None = None
    step: str = ""
    outcome: Outcome | None = None
    """Set when a step stopped the publish; None while it goes on."""
    reason: str = ""
    started_run: bool = False
    """Whether the build's START was told (its end then is too)."""

    @property
    def product_id(self) -> str:
        return str(self.product.id)

    @property
    def stopped(self) -> bool:
        return self.outcome is not None

    def stop(self, outcome: Outcome, reason: str) -> None:
        """End the publish here: it failed, could not run, or was skipped, for ``reason``."""
        if outcome.ok and outcome != Outcome.SKIPPED:
            raise ValueError(f"a publish stops as failed, error or skipped, not {outcome}")
        if self.version is not None:
            raise ValueError(f"version {self.version} is registered: too late to stop")
        self.outcome, self.reason = outcome, reason

    def fail_build(self, reason: str, outcome: Outcome = Outcome.FAILED) -> None:
        """End the publish because the build could not be made (or checked in its time)."""
        build = self.started_build()
        build.outcome, build.reason = outcome, reason
        build.seconds = self.seconds()
        self.stop(outcome, f"the build failed: {reason}")

    def started_build(self) -> Build:
        if self.build is None:
            self.build = Build(product=self.product_id, outcome=Outcome.PASSED)
        return self.build

    def told(self, message: str) -> None:
        """Log a step of the build and show it."""
        self.started_build().log.append(f"{self.seconds():7.2f}s {message}")
        self.progress(self.product_id, message)

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    def publication(self) -> Publication:
        checks = None
        if self.build is not None:
            checks = CheckRun(product=self.product_id, version=self.version, checks=self.checks)
        return Publication(
            product=self.product_id,
            outcome=self.outcome or Outcome.PASSED,
            reason=self.reason,
            version=self.version,
            validation=self.validation,
            build=self.build,
            checks=checks,
        )


Step = Callable[[PublishContext], None]
Hook = Callable[[PublishContext], None]


class Pipeline:
    """Named steps run in order, with hooks before and after each."""

    def __init__(self, steps: Sequence[tuple[str, Step]]) -> None:
        self._steps = list(steps)
        self._before: dict[str, list[Hook]] = {}
        self._after: dict[str, list[Hook]] = {}

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._steps]

    def insert(
        self, name: str, step: Step, *, before: str | None = None, after: str | None = None
    ) -> None:
        """Add the step ``name`` just before or after an existing one."""
        if (before is None) == (after is None):
            raise ValueError("say where the step goes: before= or after= one step")
        if name in self.names:
            raise ValueError(f"the pipeline has a step {name!r} already")
        anchor = before if before is not None else after
        index = self._index(str(anchor)) + (0 if before is not None else 1)
        self._steps.insert(index, (name, step))

    def before(self, name: str, hook: Hook) -> None:
        self._index(name)
        self._before.setdefault(name, []).append(hook)

    def after(self, name: str, hook: Hook) -> None:
        self._index(name)
        self._after.setdefault(name, []).append(hook)

    def _index(self, name: str) -> int:
        for index, (known, _) in enumerate(self._steps):
            if known == name:
                return index
        raise ValueError(f"the pipeline has no step {name!r}: it has {', '.join(self.names)}")

    def run(self, context: PublishContext) -> Publication:
        try:
            for name, step in self._steps:
                context.step = name
                for part in [*self._before.get(name, ()), step, *self._after.get(name, ())]:
                    _run_part(part, context)
                    if context.stopped:
                        _discard(context)
                        return context.publication()
        except BaseException:
            _discard(context)
            raise
        return context.publication()


def _run_part(part: Step, context: PublishContext) -> None:
    try:
        part(context)
    except Exception as error:
        if context.version is not None:
            # The version is registered: it is the served one. What breaks now stops
            # nothing; the steps after still run (promote), and recovery would finish it.
            _broke(context, error)
            context.reason = (
                f"published version {context.version}, but the step {context.step!r} broke "
                f"after: {type(error).__name__}"
            )
            return
        if isinstance(error, QuantaError):
            raise  # the request could not be carried out: the shells say why
        # A fault of the platform or of a plugin: never the user's "failed". Its type only,
        # in the log and the reason: an error deep in the engine may quote a value.
        _broke(context, error)
        context.stop(Outcome.ERROR, f"the step {context.step!r} broke: {type(error).__name__}")


def _broke(context: PublishContext, error: Exception) -> None:
    log.error(
        "the publish step %s of %s broke: %s",
        context.step,
        context.product_id,
        type(error).__name__,
    )


def _discard(context: PublishContext) -> None:
    """Drop what the publish staged, unless it registered: then recovery
    (`quanta.publishing.recovery`) finishes promoting it."""
    if context.version is not None:
        return
    for table in context.staged.values():
        context.mesh.storage.discard(table.table, table.branch)
    context.staged = {}
