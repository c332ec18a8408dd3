"""The build executor seam: a `BuildRequest` in, a `BuildResult` out.

A request holds all a build needs and nothing more: the checked code, the relations it may
read (as the read path decided them), the output tables and their contracts, and its
limits (the mesh's, and what the product declares: `quanta.build.limits`); never the
catalog, the settings or their credentials. The subprocess executor
(`quanta.build.isolated`, the default) hands the request to a fresh, sandboxed process
that writes files only; the in-process executor runs it in this process's engine. Either
way the storage stages what the transformation returned: an output whose columns break
the contract is refused before anything is written; and the build writes its own log
(`quanta.build.logs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from quanta import registry
from quanta.build import limits as build_limits
from quanta.build import logs, sandbox
from quanta.build.transform import Code, output_queries
from quanta.engines import Limits, TransformationFailed
from quanta.errors import PlatformError, QuantaError
from quanta.model.contract import Contract
from quanta.model.product import BuildLimits
from quanta.model.relations import Binding
from quanta.model.result import Build, Check, Outcome, PortBuild
from quanta.model.types import storable_type
from quanta.quality import conformance
from quanta.storage import StagedTable, TableName

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.context import MeshContext
    from quanta.engines import Engine, Session
    from quanta.storage import Storage

StepTold = Callable[[str], None]
"""Told each step of a build as it starts (the publish pipeline logs and shows them)."""


class OutputTable(BaseModel):
    """Where one output port's rows go, and the contract they must meet first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    port: str
    table: TableName
    location: str
    contract: dict[str, Any]
    """The port's contract as an ODCS document."""
    scopes: dict[str, str] = Field(default_factory=dict)
    """What each private column's pseudonyms are keyed for (`quanta.governance.inherit`)."""

    def parsed_contract(self) -> Contract:
        return Contract.model_validate(self.contract)


class BuildRequest(BaseModel):
    """One product's build, as an executor receives it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    product: str
    language: str
    filename: str
    function: str = "build"
    code: str
    """The transformation as read once from the product folder, and checked."""
    bindings: list[Binding]
    outputs: list[OutputTable]
    branch: str
    limits: Limits
    """The mesh's limits of a build (``QUANTA_BUILD_TIMEOUT``, ``QUANTA_BUILD_MAX_ROWS``)."""
    declared: BuildLimits | None = None
    """What the product's ``buildLimits`` asks for; the executor holds it to the mesh's."""


@dataclass
class BuildResult:
    build: Build
    staged: dict[str, StagedTable] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    """The schema checks of each output, judged before it was written."""
    schema_checked: bool = True
    """Whether this process checked the outputs' columns; if not, the checks of the staged
    snapshots do (an executor whose worker's word is not taken)."""


class Executor(Protocol):
    name: str

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        """Run the build; a failure is a result with the reason, never an exception."""
        ...


def schema_checks(
    output: OutputTable, columns: list[tuple[str, str]], code: str | None = None
) -> list[Check]:
    """The output's columns against its contract, before any row is written; ``code``
    (the transformation's) tells which names of undeclared columns may be shown."""
    stored = {name: storable_type(kind) or kind for name, kind in columns}
    target = conformance.Target(output.port, output.parsed_contract(), stored, code=code)
    return conformance.schema_rule(target).judge({})


def broken(checks: list[Check]) -> str:
    shown = "; ".join(f"{check.name}: {check.reason}" for check in checks[:5])
    more = f" (and {len(checks) - 5} more)" if len(checks) > 5 else ""
    return f"the output breaks its contract: {shown}{more}"


LimitedRun = Callable[
    [BuildRequest, build_limits.BuildResources, StepTold, logs.BuildLog], BuildResult
]


def logged_run(
    context: MeshContext, executor: str, request: BuildRequest, told: StepTold, run: LimitedRun
) -> BuildResult:
    """Run the build within its limits, logging it: ``run`` gets the request with the
    limits resolved (`quanta.build.limits`), them, the ``told`` that logs, and the log."""
    started = time.perf_counter()
    with logs.build_log(context.settings.home, request, executor, told) as (entry, step):
        try:
            resources = build_limits.resolve(request.declared, request.limits, context.settings)
        except build_limits.AboveTheMesh as error:
            result = BuildResult(
                build=Build(product=request.product, outcome=Outcome.FAILED, reason=str(error))
            )
        else:
            entry.line(f"limits: {resources.describe()}")
            limited = request.model_copy(update={"limits": resources.limits})
            result = run(limited, resources, step, entry)
        logs.finished(entry, result, started)
        return result


def engine_for(context: MeshContext, resources: build_limits.BuildResources) -> Engine:
    """The mesh's engine, or one with the build's own memory and threads."""
    settings = context.settings
    if (resources.memory, resources.threads) == (
        settings.build_memory_limit,
        settings.build_threads,
    ):
        return context.engine
    engine_class = registry.load("quanta.engines", settings.engine)
    engine: Engine = engine_class(
        settings.home / "extensions",
        memory_limit=resources.memory,
        threads=resources.threads,
        scratch_directory=settings.home / "scratch",
    )
    return engine


class InProcessExecutor:
    """Runs the build in this process's engine and writes it straight into the storage.

    Only a Python transformation leaves this process (`quanta.engines.duckdb_worker`),
    sandboxed there; SQL runs in the engine's own sandbox, in Quanta's process.
    """

    name = "in-process"

    def __init__(self, context: MeshContext) -> None:
        self.context = context

    @property
    def storage(self) -> Storage:
        return self.context.storage

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        return logged_run(self.context, self.name, request, told, self._limited)

    def _limited(
        self,
        request: BuildRequest,
        resources: build_limits.BuildResources,
        told: StepTold,
        entry: logs.BuildLog,
    ) -> BuildResult:
        status = sandbox.abi()
        where = status.describe() if status.sandboxed else f"none ({status.reason})"
        entry.line(
            "sandbox: the engine's own in this process (in-process executor); a Python "
            f"transformation's process: {where}"
        )
        result = BuildResult(build=Build(product=request.product, outcome=Outcome.PASSED))
        try:
            return self._run(request, told, result, resources)
        except BaseException:  # interrupted: what was staged goes, then the interrupt goes on
            self._discard(result)
            raise

    def _run(
        self,
        request: BuildRequest,
        told: StepTold,
        result: BuildResult,
        resources: build_limits.BuildResources,
    ) -> BuildResult:
        outputs = {output.port: output for output in request.outputs}
        session: Session | None = None

        def fail(reason: str, outcome: Outcome = Outcome.FAILED) -> BuildResult:
            # Work the time limit stopped fails as that, wherever its interrupt surfaced
            # (inside the storage's writing too, as an OSError).
            stopped = session.stopped() if session is not None else None
            self._discard(result)
            result.build.outcome = Outcome.FAILED if stopped else outcome
            result.build.reason = stopped or build_limits.memory_reason(reason, resources.memory)
            return result

        try:
            with engine_for(self.context, resources).session(
                request.bindings,
                also_readable=[output.location for output in request.outputs],
                limits=request.limits,
            ) as session:
                told(f"running {request.filename}")
                code = Code(request.filename, request.code)
                ports = [output.port for output in request.outputs]
                queries = output_queries(request.language, request.function, ports, code, session)
                for port, query in queries.items():
                    output = outputs[port]
                    found = session.columns(query)
                    result.checks.extend(schema_checks(output, found, request.code))
                    failing = [check for check in result.checks if not check.outcome.ok]
                    if failing:
                        return fail(broken(failing))
                    told(f"writing {output.table} ({request.branch})")
                    result.staged[port] = self._stage(output, session.stream(query), request)
                # Storage writes outside the engine: time may run out there, unnoticed.
                stopped = session.stopped()
                if stopped is not None:
                    return fail(stopped)
        except PlatformError as error:
            return fail(str(error), Outcome.ERROR)
        except (TransformationFailed, QuantaError) as error:
            return fail(str(error))
        except Exception as error:
            # Not the product's: its code runs in a process of its own, and the engine's
            # errors about its SQL are QueryRefused. The storage or Quanta broke.
            reason = f"the build broke: {type(error).__name__}"  # its message may quote a value
            return fail(reason, Outcome.ERROR)
        result.build.ports = port_builds(result.staged)
        return result

    def _discard(self, result: BuildResult) -> None:
        for staged in result.staged.values():
            self.storage.discard(staged.table, staged.branch)
        result.staged = {}

    def _stage(
        self, output: OutputTable, rows: pa.RecordBatchReader, request: BuildRequest
    ) -> StagedTable:
        contract = output.parsed_contract()
        stored = self.context.governance.stored_rows(
            contract, rows, str(output.table), output.scopes
        )
        return self.storage.stage(
            output.table, stored, request.branch, private=contract.private_columns
        )


def port_builds(staged: dict[str, StagedTable]) -> list[PortBuild]:
    return [
        PortBuild(
            port=port, rows=s.rows, bytes=s.bytes, table=str(s.table), snapshot_id=s.snapshot_id
        )
        for port, s in staged.items()
    ]
