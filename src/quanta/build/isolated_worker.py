"""The process a subprocess build runs in: ``python -P -m quanta.build.isolated_worker FOLDER``.

It reads ``request.json`` (a `quanta.build.executor.BuildRequest`) and ``engine.json`` from
FOLDER and, before anything else, confines itself (`quanta.build.sandbox`) to what the
build reads: the runtime, the engine's extensions, the product's folder and its inputs'
files, and FOLDER. Then it runs the build in an engine session and writes ``report.json``:
per output port, the Arrow stream file of its rows and their columns (name, engine type),
which the parent checks against the contract before it stages anything; the sandbox it
ran in; and, when the build failed, why, with the same value-free messages as an
in-process build. Failures are reported, never raised.

It imports neither pydantic nor Quanta's models, only the engine, Arrow and the standard
library: the request is read as plain JSON, so that a build in a process of its own costs
little more than one in Quanta's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.build import sandbox
from quanta.engines import processes

if TYPE_CHECKING:
    from quanta.engines import Session


def build(request: dict[str, Any], config: dict[str, Any], folder: Path) -> dict[str, Any]:
    from quanta import registry
    from quanta.engines import Limits, TransformationFailed
    from quanta.engines.duckdb_worker import binding
    from quanta.errors import PlatformError, QuantaError

    report: dict[str, Any] = {"reason": "", "outcome": "failed", "ports": {}, "columns": {}}
    session = None
    try:
        engine_class = registry.load("quanta.engines", config["engine"])
        engine = engine_class(
            Path(config["extensions"]),
            memory_limit=config["memory_limit"],
            threads=config["threads"],
            scratch_directory=folder,
        )
        bindings = [binding(item) for item in request["bindings"]]
        with engine.session(bindings, limits=Limits(**request["limits"])) as session:
            for port, query in _queries(request, session).items():
                report["columns"][port] = session.columns(query)
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


def _queries(request: dict[str, Any], session: Session) -> dict[str, str]:
    """Per output port, the query its rows come from (as `quanta.build.transform.
    output_queries`, whose imports this process spares itself)."""
    ports = [str(output["port"]) for output in request["outputs"]]
    filename, function = str(request["filename"]), str(request["function"])
    if request["language"] == "sql":
        return {ports[0]: str(request["code"])}
    from quanta.build.returned import port_queries

    queries = session.run_python(str(request["code"]), filename, function)
    return port_queries(queries, ports, filename, function, str(request["code"]))


def _write(rows: Any, path: Path) -> None:
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, rows.schema) as writer:
        for batch in rows:
            writer.write_batch(batch)


def rules(request: dict[str, Any], config: dict[str, Any], folder: Path) -> sandbox.Rules:
    """What the build's process may open: the runtime, the product's folder (its code and
    source files), its inputs' files (and /proc, for a Python transformation), read-only;
    its scratch folder and the engine's extensions (which the engine installs there on
    first use), read-write."""
    readable: set[str] = set()
    for item in request["bindings"]:
        relation = item["relation"]
        if "metadata_location" in relation:
            if relation["files"] is not None:
                readable.update(relation["files"])
            else:  # planned from the table's metadata: its folder
                readable.add(str(relation["location"]).removeprefix("file://"))
        elif "kind" in relation:  # a database: its file (PostgreSQL is reached by network)
            if relation["kind"] != "postgres":
                readable.add(relation["location"])
        else:
            readable.update(relation["paths"])
            if relation["root"]:
                readable.add(relation["root"])
    if request["language"] == "python":
        # The process a Python transformation runs in needs its own /proc entry, which
        # does not exist yet: it confines itself to that (and to less than this one).
        readable.add("/proc")
    return sandbox.runtime_rules(
        readable=readable, writable={str(folder), str(config["extensions"])}
    )


def main() -> None:
    processes.end_with_parent()
    folder = Path(sys.argv[1])
    request = json.loads((folder / "request.json").read_text("utf-8"))
    config = json.loads((folder / "engine.json").read_text("utf-8"))
    try:
        # First: Landlock binds the threads started after it only (the engine's).
        status = sandbox.confine(rules(request, config, folder))
    except OSError as error:
        reason = f"the sandbox of the build's process could not be set up: {error.strerror}"
        report: dict[str, Any] = {"reason": reason, "outcome": "error", "ports": {}}
        report |= {"columns": {}, "sandbox": "none"}
    else:
        report = build(request, config, folder) | {"sandbox": status.describe()}
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main()
