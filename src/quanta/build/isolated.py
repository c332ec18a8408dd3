"""The subprocess executor: each build in a fresh Python process that receives only its
`BuildRequest`.

The child gets the request and the engine's own configuration (extensions folder, memory,
threads), an environment without Quanta's settings or any credential, and a private
scratch folder; it runs the transformation and writes each output as an Arrow stream file
there, after checking its columns against the contract. It never opens the catalog or the
warehouse's table metadata for writing: this process stages what the child wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.build.executor import BuildRequest, BuildResult, StepTold, broken, port_builds
from quanta.engines import processes
from quanta.model.result import Build, Check, Outcome

if TYPE_CHECKING:
    from quanta.context import MeshContext

GRACE_SECONDS = 30.0
"""How long past its own time limit the child may take to stop and report."""

PASSED_ON = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
"""The only environment variables a build's process inherits."""


class SubprocessExecutor:
    name = "subprocess"

    def __init__(self, context: MeshContext) -> None:
        self.context = context

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        result = BuildResult(build=Build(product=request.product, outcome=Outcome.PASSED))
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
                    [sys.executable, "-m", "quanta.build.isolated_worker", str(folder)],
                    None if seconds is None else seconds + GRACE_SECONDS,
                    env={key: os.environ[key] for key in PASSED_ON if key in os.environ},
                )
            except subprocess.TimeoutExpired:
                return _failed(result, request.limits.too_long())
            report_file = folder / "report.json"
            if not report_file.is_file():
                return _failed(
                    result, f"the build's process ended before reporting: {processes.ended(code)}"
                )
            report = json.loads(report_file.read_text(encoding="utf-8"))
            result.checks = [Check.model_validate(check) for check in report["checks"]]
            if report["reason"]:
                return _failed(result, report["reason"], Outcome(report["outcome"]))
            failing = [check for check in result.checks if not check.outcome.ok]
            if failing:
                return _failed(result, broken(failing))
            outputs = {output.port: output for output in request.outputs}
            storage = self.context.storage
            import pyarrow as pa

            try:
                for port, file in report["ports"].items():
                    output = outputs[port]
                    told(f"writing {output.table} ({request.branch})")
                    with pa.memory_map(str(folder / Path(file).name)) as source:
                        rows = pa.ipc.open_stream(source)
                        private = output.parsed_contract().private_columns
                        result.staged[port] = storage.stage(
                            output.table, rows, request.branch, private=private
                        )
            except Exception:
                for staged in result.staged.values():
                    storage.discard(staged.table, staged.branch)
                result.staged = {}
                raise
        finally:
            processes.remove_scratch(folder)
        result.build.ports = port_builds(result.staged)
        return result


def _failed(result: BuildResult, reason: str, outcome: Outcome = Outcome.FAILED) -> BuildResult:
    result.build.outcome = outcome
    result.build.reason = reason
    return result
