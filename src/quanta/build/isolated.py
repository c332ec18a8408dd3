"""The subprocess executor: each build in a fresh Python process that receives only its
`BuildRequest`.

The child gets the request and the engine's own configuration (extensions folder, memory,
threads), an environment without Quanta's settings or any credential
(`processes.clean_environment`), and a private
scratch folder; it runs the transformation and writes each output as an Arrow stream file
there, after checking its columns against the contract. It never opens the catalog or the
warehouse's table metadata for writing: this process stages what the child wrote.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.build.executor import BuildRequest, BuildResult, StepTold, port_builds
from quanta.engines import processes
from quanta.model.result import Build, Check, Outcome

if TYPE_CHECKING:
    from quanta.context import MeshContext

GRACE_SECONDS = 30.0
"""How long past its own time limit the child may take to stop and report."""

ARROW_FILE = re.compile(r"[0-9]{1,4}\.arrows")
"""The names the build's process gives its output files, in its scratch folder."""


class SubprocessExecutor:
    name = "subprocess"

    def __init__(self, context: MeshContext) -> None:
        self.context = context

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        # What the child hands over is checked here again, against the contract, on the
        # staged snapshot (`BuildResult.schema_checked`): its report is not trusted.
        result = BuildResult(
            build=Build(product=request.product, outcome=Outcome.PASSED), schema_checked=False
        )
        engine = self.context.engine
        folder = processes.scratch(getattr(engine, "scratch_directory", None))
        try:
            (folder / "request.json").write_text(request.model_dump_json(), encoding="utf-8")
            config = {
                "engine": self.context.settings.engine,
                "extensions": str(getattr(engine, "extension_directory", "")),
                "memory_limit": getattr(engine, "memory_limit", None),
                "threads": getattr(engine, "threads", None),
                "scratch": str(folder),
            }
            (folder / "engine.json").write_text(json.dumps(config), encoding="utf-8")
            told(f"running {request.filename} in a process of its own")
            seconds = request.limits.seconds
            try:
                code = processes.run(
                    # -P: no module of the working folder shadows Quanta's or DuckDB's.
                    [sys.executable, "-P", "-m", "quanta.build.isolated_worker", str(folder)],
                    None if seconds is None else seconds + GRACE_SECONDS,
                    env=processes.clean_environment(),
                )
            except subprocess.TimeoutExpired:
                return _failed(result, request.limits.too_long())
            report = _report(folder, code, request)
            if isinstance(report, str):
                return _failed(result, report, Outcome.ERROR)
            if report["reason"]:
                result.checks = [Check.model_validate(check) for check in report["checks"]]
                outcome = Outcome.ERROR if report["outcome"] == "error" else Outcome.FAILED
                return _failed(result, report["reason"], outcome)
            self._stage(folder, report["ports"], request, result, told)
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
                    rows = pa.ipc.open_stream(source)
                    private = output.parsed_contract().private_columns
                    result.staged[output.port] = storage.stage(
                        output.table, rows, request.branch, private=private
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
        ports = report["ports"]
        expected = {output.port for output in request.outputs}
        shaped = (
            isinstance(report["reason"], str)
            and isinstance(report["checks"], list)
            and report["outcome"] in ("failed", "error")
            and isinstance(ports, dict)
            and (report["reason"] or set(ports) == expected)
            and all(isinstance(name, str) and ARROW_FILE.fullmatch(name) for name in ports.values())
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
