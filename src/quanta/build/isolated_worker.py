"""The process a subprocess build runs in: ``python -m quanta.build.isolated_worker FOLDER``.

It reads ``request.json`` and ``engine.json`` from FOLDER, runs the build in a sandboxed
engine session, and writes ``report.json`` with the schema checks and, per output port,
the Arrow stream file of its rows. Failures are reported, never raised: the report says
why, with the same value-free messages as an in-process build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from quanta import registry
from quanta.build.executor import BuildRequest, broken, schema_checks
from quanta.build.transform import Code, output_queries
from quanta.engines import TransformationFailed, processes
from quanta.errors import PlatformError, QuantaError


def build(folder: Path) -> dict[str, Any]:
    request = BuildRequest.model_validate_json((folder / "request.json").read_text("utf-8"))
    config = json.loads((folder / "engine.json").read_text("utf-8"))
    engine_class = registry.load("quanta.engines", config["engine"])
    engine = engine_class(
        Path(config["extensions"]),
        memory_limit=config["memory_limit"],
        threads=config["threads"],
        scratch_directory=folder,
    )
    report: dict[str, Any] = {"reason": "", "outcome": "failed", "checks": [], "ports": {}}
    outputs = {output.port: output for output in request.outputs}
    session = None
    try:
        with engine.session(request.bindings, limits=request.limits) as session:
            code = Code(request.filename, request.code)
            ports = [output.port for output in request.outputs]
            queries = output_queries(request.language, request.function, ports, code, session)
            for port, query in queries.items():
                checks = schema_checks(outputs[port], session.columns(query))
                report["checks"].extend(check.model_dump(mode="json") for check in checks)
                failing = [check for check in checks if not check.outcome.ok]
                if failing:
                    report["reason"] = broken(failing)
                    return report
                name = f"{len(report['ports'])}.arrows"
                _write(session.stream(query), folder / name)
                report["ports"][port] = name
            stopped = session.stopped()
            if stopped is not None:
                report["reason"] = stopped
    except PlatformError as error:
        report["reason"], report["outcome"] = str(error), "error"
    except (TransformationFailed, QuantaError) as error:
        report["reason"] = str(error)
    except Exception as error:
        report["reason"] = f"the build broke: {type(error).__name__}"
        report["outcome"] = "error"
    stopped = session.stopped() if session is not None else None
    if report["reason"] and stopped:
        report["reason"], report["outcome"] = stopped, "failed"
    return report


def _write(rows: Any, path: Path) -> None:
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, rows.schema) as writer:
        for batch in rows:
            writer.write_batch(batch)


def main() -> None:
    processes.end_with_parent()
    folder = Path(sys.argv[1])
    report = build(folder)
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main()
