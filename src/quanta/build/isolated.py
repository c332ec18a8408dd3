"""The subprocess executor, the default: each build in a fresh Python process that receives
only its `BuildRequest`, and is sandboxed.

The child gets the request and the engine's own configuration (extensions folder, the
build's memory and threads), an environment without Quanta's settings or any credential
(`processes.clean_environment`), and a private scratch folder. It confines itself to what
the build reads (`quanta.build.sandbox`), runs the transformation and writes each output
as an Arrow stream file there, with the columns it holds. It never opens the catalog or
the warehouse's table metadata, and cannot: this process checks the columns against the
contract and stages what the child wrote. The child's wall time is the build's (it stops
its own work at the limit; this process kills its process group a grace period later).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.build import limits as build_limits
from quanta.build import logs, sandbox
from quanta.build.executor import (
    BuildRequest,
    BuildResult,
    StepTold,
    broken,
    logged_run,
    port_builds,
    schema_checks,
)
from quanta.engines import processes
from quanta.errors import PlatformError, QuantaError
from quanta.model.result import Build, Outcome

if TYPE_CHECKING:
    from quanta.context import MeshContext

GRACE_SECONDS = 30.0
"""How long past its own time limit the child may take to stop and report."""

ARROW_FILE = re.compile(r"[0-9]{1,4}\.arrows")
"""The names the build's process gives its output files, in its scratch folder."""
WORKER = "quanta.build.isolated_worker"


class SubprocessExecutor:
    name = "subprocess"

    def __init__(self, context: MeshContext) -> None:
        self.context = context

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        return logged_run(self.context, self.name, request, told, self._limited)

    def _limited(
        self,
        request: BuildRequest,
        resources: build_limits.BuildResources,
        told: StepTold,
        entry: logs.BuildLog,
    ) -> BuildResult:
        # What the child hands over is checked here again, against the contract, on the
        # staged snapshot (`BuildResult.schema_checked`): its report is not trusted.
        result = BuildResult(
            build=Build(product=request.product, outcome=Outcome.PASSED), schema_checked=False
        )
        engine = self.context.engine
        status = sandbox.abi()
        entry.line(f"sandbox: {status.describe()}")
        folder = processes.scratch(getattr(engine, "scratch_directory", None))
        try:
            (folder / "request.json").write_text(request.model_dump_json(), encoding="utf-8")
            config = {
                "engine": self.context.settings.engine,
                "extensions": str(getattr(engine, "extension_directory", "")),
                "memory_limit": resources.memory,
                "threads": resources.threads,
                "scratch": str(folder),
            }
            (folder / "engine.json").write_text(json.dumps(config), encoding="utf-8")
            unsandboxed = "" if status.sandboxed else f" (unsandboxed: {status.reason})"
            told(f"running {request.filename} in a process of its own{unsandboxed}")
            seconds = request.limits.seconds
            try:
                code = processes.run(
                    # -P: no module of the working folder shadows Quanta's or DuckDB's.
                    [sys.executable, "-P", "-m", WORKER, str(folder)],
                    None if seconds is None else seconds + GRACE_SECONDS,
                    env=processes.clean_environment(),
                )
            except subprocess.TimeoutExpired:
                return _failed(result, request.limits.too_long())
            report = _report(folder, code, request)
            if isinstance(report, str):
                return _failed(result, report, Outcome.ERROR)
            if report["sandbox"] != status.describe():
                entry.line(f"sandbox of the build's process: {report['sandbox']}")
            # The contract first: an output whose columns break it fails as that, even
            # when writing it failed next (a type that cannot be stored).
            for output in request.outputs:
                if output.port in report["columns"]:
                    columns = [(str(n), str(t)) for n, t in report["columns"][output.port]]
                    result.checks.extend(schema_checks(output, columns, request.code))
            failing = [check for check in result.checks if not check.outcome.ok]
            if failing:
                return _failed(result, broken(failing))
            if report["reason"]:
                outcome = Outcome.ERROR if report["outcome"] == "error" else Outcome.FAILED
                reason = build_limits.memory_reason(report["reason"], resources.memory)
                return _failed(result, reason, outcome)
            try:
                self._stage(folder, report["ports"], request, result, told)
            except PlatformError as error:
                return _failed(result, str(error), Outcome.ERROR)
            except QuantaError as error:  # the storage refused it (an incompatible change)
                return _failed(result, str(error))
            except Exception as error:
                # The storage or Quanta broke; its message may quote a value.
                return _failed(result, f"the build broke: {type(error).__name__}", Outcome.ERROR)
        finally:
            processes.remove_scratch(folder)
        result.build.ports = port_builds(result.staged)
        return result

    def _stage(
        self,
        folder: Path,
        files: dict[str, str],
        request: BuildRequest,
        result: BuildResult,
        told: StepTold,
    ) -> None:
        import pyarrow as pa

        storage = self.context.storage
        try:
            for output in request.outputs:
                told(f"writing {output.table} ({request.branch})")
                with pa.memory_map(str(folder / files[output.port])) as source:
                    contract = output.parsed_contract()
                    rows = self.context.governance.stored_rows(
                        contract, pa.ipc.open_stream(source), str(output.table), output.scopes
                    )
                    result.staged[output.port] = storage.stage(
                        output.table, rows, request.branch, private=contract.private_columns
                    )
        except BaseException:
            for staged in result.staged.values():
                storage.discard(staged.table, staged.branch)
            result.staged = {}
            raise


def _report(folder: Path, code: int, request: BuildRequest) -> dict[str, Any] | str:
    """The child's report, when it ended well and the report has the expected shape; else
    why not."""
    report_file = folder / "report.json"
    if code != 0 or not report_file.is_file():
        return f"the build's process ended before reporting: {processes.ended(code, 'it')}"
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
        ports, columns = report["ports"], report["columns"]
        expected = {output.port for output in request.outputs}
        shaped = (
            isinstance(report["reason"], str)
            and isinstance(report["sandbox"], str)
            and report["outcome"] in ("failed", "error")
            and isinstance(ports, dict)
            and (report["reason"] or set(ports) == expected)
            and all(isinstance(name, str) and ARROW_FILE.fullmatch(name) for name in ports.values())
            and isinstance(columns, dict)
            and set(columns) <= expected
            and all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
                for found in columns.values()
                for pair in found
            )
        )
    except (ValueError, KeyError, TypeError):
        shaped = False
    if not shaped:
        return "the build's process handed over a report Quanta cannot read"
    return dict(report)


def _failed(result: BuildResult, reason: str, outcome: Outcome = Outcome.FAILED) -> BuildResult:
    result.build.outcome = outcome
    result.build.reason = reason
    return result
