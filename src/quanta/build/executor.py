"""The build executor seam: a `BuildRequest` in, a `BuildResult` out.

A request holds all a build needs and nothing more: the checked code, the relations it may
read (as the read path decided them), the output tables and their contracts, and its
limits; never the catalog, the settings or their credentials. The in-process executor runs
it in this process's engine (the default for now); the subprocess executor
(`quanta.build.isolated`) hands the request to a fresh process that writes files only.
Either way the storage stages what the transformation returned: an output whose columns
break the contract is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from quanta.build.transform import Code, output_queries
from quanta.engines import Limits, TransformationFailed
from quanta.errors import PlatformError, QuantaError
from quanta.model.contract import Contract
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


def schema_checks(output: OutputTable, columns: list[tuple[str, str]]) -> list[Check]:
    """The output's columns against its contract, before any row is written."""
    stored = {name: storable_type(kind) or kind for name, kind in columns}
    target = conformance.Target(output.port, output.parsed_contract(), stored)
    return conformance.schema_rule(target).judge({})


def broken(checks: list[Check]) -> str:
    shown = "; ".join(f"{check.name}: {check.reason}" for check in checks[:5])
    more = f" (and {len(checks) - 5} more)" if len(checks) > 5 else ""
    return f"the output breaks its contract: {shown}{more}"


class InProcessExecutor:
    """Runs the build in this process's engine and writes it straight into the storage."""

    name = "in-process"

    def __init__(self, context: MeshContext) -> None:
        self.context = context

    @property
    def engine(self) -> Engine:
        return self.context.engine

    @property
    def storage(self) -> Storage:
        return self.context.storage

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        result = BuildResult(build=Build(product=request.product, outcome=Outcome.PASSED))
        try:
            return self._run(request, told, result)
        except BaseException:  # interrupted: what was staged goes, then the interrupt goes on
            self._discard(result)
            raise

    def _run(self, request: BuildRequest, told: StepTold, result: BuildResult) -> BuildResult:
        outputs = {output.port: output for output in request.outputs}
        session: Session | None = None

        def fail(reason: str, outcome: Outcome = Outcome.FAILED) -> BuildResult:
            # Work the time limit stopped fails as that, wherever its interrupt surfaced
            # (inside the storage's writing too, as an OSError).
            stopped = session.stopped() if session is not None else None
            self._discard(result)
            result.build.outcome = Outcome.FAILED if stopped else outcome
            result.build.reason = stopped or reason
            return result

        try:
            with self.engine.session(
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
                    result.checks.extend(schema_checks(output, session.columns(query)))
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
        private = output.parsed_contract().private_columns
        return self.storage.stage(output.table, rows, request.branch, private=private)


def port_builds(staged: dict[str, StagedTable]) -> list[PortBuild]:
    return [
        PortBuild(
            port=port, rows=s.rows, bytes=s.bytes, table=str(s.table), snapshot_id=s.snapshot_id
        )
        for port, s in staged.items()
    ]
