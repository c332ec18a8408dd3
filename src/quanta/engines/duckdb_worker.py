"""The process a Python transformation runs in: ``python -P -m quanta.engines.duckdb_worker R``.

A product's Python code is trusted, but it must not share Quanta's process: there it could
end the process (``os._exit``, a segfault), print into Quanta's output or outlive any time
limit. `DuckDBSession.run_python` starts this module in a fresh interpreter instead; the
protocol between the two is files in a scratch folder the parent owns:

1. The parent writes the request ``R`` (JSON): the product's code as the parent read it
   (never the file again: it may have changed since) and its function, the engine's
   settings, the bindings (source files as descriptors the child inherits), and the
   session's limits.
2. The child opens its own session over those bindings through the same engine code, so it
   meets the same sandbox; runs the code; calls the function with `Inputs`; writes each
   table it returned as an Arrow IPC stream, batch by batch, to ``output-N.arrows`` next
   to the request; and answers in ``answer.json``: ``{"ports": {port: file}}``, or
   ``{"error": reason}`` when the product's code failed (with ``"engine_failed": true``
   when the engine failed under it: the parent raises a `PlatformError` then). Then it
   ends at once (whatever threads the product's code left running).
3. No answer means the child ended before it could give one: the parent tells how from its
   exit code. The parent kills the child when the session's time is up; the child ends by
   itself when the parent does, killed or not (its stdin is a pipe that then closes).

The child's own output goes to the parent's stderr. A reason never carries values from
the data: Quanta's messages and the engine's (cleaned of values) are kept; of the product's
own exceptions, only the kind and the line (``transform.py:12: KeyError``).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
import types
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from quanta.engines import Limits, TransformationFailed, duckdb_errors, processes
from quanta.engines.duckdb import DuckDBEngine
from quanta.engines.duckdb_inputs import Inputs, UnknownInput
from quanta.engines.duckdb_refusals import labels, refusals
from quanta.engines.duckdb_session import ANSWER, BATCH_ROWS
from quanta.errors import PlatformError, QuantaError, QueryRefused, first_line
from quanta.model.relations import Binding, Exposed, FileScan, Relation, TableScan

MAX_REASON = 1000


def main(argv: Sequence[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else list(argv)
    _end_with_parent()
    request_file = Path(arguments[0])
    folder = request_file.parent
    request = json.loads(request_file.read_text(encoding="utf-8"))
    filename = str(request["filename"])
    bindings = [_binding(item) for item in request["bindings"]]
    answer: dict[str, Any]
    try:
        answer = {"ports": run(request, bindings, folder)}
    except BaseException as error:  # what the product's code raised, SystemExit too
        answer = {"error": _reason(error, filename, str(request.get("source", "")), bindings)}
        if _engine_failed(error):
            answer["engine_failed"] = True
    written = folder / f"{ANSWER}.part"
    written.write_text(json.dumps(answer), encoding="utf-8")
    written.replace(folder / ANSWER)
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(0)


def run(request: dict[str, Any], bindings: list[Binding], folder: Path) -> dict[str, str]:
    """Call the transformation; write its tables into ``folder``; return port -> file name."""
    filename = str(request["filename"])
    function = _load_function(request["source"], filename, request["function"])
    settings = request["engine"]
    engine = DuckDBEngine(
        Path(settings["extension_directory"]),
        memory_limit=settings["memory_limit"],
        threads=settings["threads"],
        scratch_directory=Path(settings["scratch_directory"]),
    )
    limits = Limits(**request["limits"])
    with engine.session(bindings) as session:
        result = function(Inputs(session.connection, session.bindings))
        outputs = result if isinstance(result, dict) else {"": result}
        files: dict[str, str] = {}
        for index, (port, value) in enumerate(outputs.items()):
            if not isinstance(port, str):
                raise TransformationFailed(
                    f"{filename}: {request['function']}() returned a dict with a key of type "
                    f"{type(port).__name__}: its keys are the names of the output ports"
                )
            name = f"output-{index}.arrows"
            subject = f"the output for port {port}" if port else "the output"
            try:
                reader = _reader(value, filename, request["function"], subject, session.bindings)
                _write(reader, folder / name, limits, subject, session.bindings)
            except QueryRefused as error:
                raise TransformationFailed(
                    f"{filename}: {subject} could not be read: {error}"
                ) from None
            files[port] = name
    return files


def _load_function(source: str, filename: str, name: str) -> Callable[..., Any]:
    """The function ``name`` of the transformation's code, as the parent read and gave it."""
    module = types.ModuleType("quanta_transformation")
    module.__file__ = filename
    # Registered, as an imported module is (dataclasses, pickle and typing look it up):
    # this process runs nothing else.
    sys.modules[module.__name__] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # the product's trusted code
    function = getattr(module, name, None)
    if not callable(function):
        raise TransformationFailed(f"{filename} defines no function {name}(inputs)")
    return function  # type: ignore[no-any-return]


def _reader(
    value: Any, filename: str, function: str, subject: str, bindings: Sequence[Binding]
) -> pa.RecordBatchReader:
    if isinstance(value, duckdb.DuckDBPyRelation):
        with refusals(bindings):
            return value.to_arrow_reader(batch_size=BATCH_ROWS)
    if isinstance(value, pa.Table):
        return value.to_reader()
    if isinstance(value, pa.RecordBatchReader):
        return value
    raise TransformationFailed(
        f"{filename}: {function}() returned {type(value).__name__} as {subject}: return a "
        "pyarrow Table, a RecordBatchReader or a DuckDB relation (or a dict of them, one per "
        "port)"
    )


def _write(
    reader: pa.RecordBatchReader,
    file: Path,
    limits: Limits,
    subject: str,
    bindings: Sequence[Binding],
) -> None:
    rows = 0
    with reader, pa.OSFile(str(file), "wb") as sink, pa.ipc.new_stream(sink, reader.schema) as out:
        batches = iter(reader)
        while True:
            # Only reading is the engine's: an error writing the file is this machine's.
            with refusals(bindings):
                batch = next(batches, None)
            if batch is None:
                return
            rows += batch.num_rows
            if limits.rows is not None and rows > limits.rows:
                raise TransformationFailed(limits.too_many(subject))
            out.write_batch(batch)


def _binding(item: dict[str, Any]) -> Binding:
    """A `Binding` back from its JSON form (`dataclasses.asdict`)."""
    found = item["relation"]
    relation: Relation
    if "metadata_location" in found:
        files = found["files"]
        relation = TableScan(
            found["metadata_location"],
            int(found["snapshot_id"]),
            found["location"],
            None if files is None else tuple(files),
        )
    else:
        relation = FileScan(
            tuple(found["paths"]),
            found["format"],
            dict(found["options"]),
            found["label"],
            found["root"],
        )
    # The columns the read path decided: the product's code sees those, and no others.
    shown = item.get("columns")
    columns = None if shown is None else tuple(Exposed(c["name"], c["expression"]) for c in shown)
    return Binding(tuple(tuple(name) for name in item["names"]), relation, columns)


def _reason(error: BaseException, filename: str, source: str, bindings: Sequence[Binding]) -> str:
    """Why the transformation failed, with the line of the product's file: no data values."""
    try:
        text = _described(error, filename, source.splitlines(), bindings)
    except Exception:
        text = f"{filename}: {type(error).__name__}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _described(
    error: BaseException, filename: str, lines: list[str], bindings: Sequence[Binding]
) -> str:
    if isinstance(error, TransformationFailed):
        return str(error)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    where = f"{filename}:{frames[-1].lineno}" if frames else filename
    kind = type(error).__name__
    if isinstance(error, SyntaxError) and error.filename == filename:
        return f"{filename}:{error.lineno}: {kind}: {error.msg}"
    if isinstance(error, QuantaError | UnknownInput):
        return f"{where}: {error}"  # Quanta's own words: they hold no values
    if isinstance(error, duckdb.Error) and kind in duckdb_errors.USER_ERRORS:
        return f"{where}: {duckdb_errors.message(kind, str(error), labels(bindings))}"
    if isinstance(error, duckdb.Error):
        return f"{where}: {duckdb_errors.failure(kind, str(error), labels(bindings))}"
    if isinstance(error, SystemExit):
        return (
            f"{where}: the transformation ended its process (SystemExit) before returning "
            "its tables"
        )
    if isinstance(error, KeyboardInterrupt):
        return (
            f"{where}: the transformation was interrupted (KeyboardInterrupt) before "
            "returning its tables"
        )
    # The standard library and pyarrow put values into their messages (KeyError: 91234,
    # "year 91234 is out of range"): of those, only the kind and the place are told. A
    # message the product's own raise statement wrote is the producer's words, shown with
    # what may be values (quoted parts, numbers) blanked.
    line = lines[frames[-1].lineno - 1] if frames and frames[-1].lineno else ""
    text = str(error).strip()
    if text and line.lstrip().startswith("raise "):
        return f"{where}: {kind}: {without_values(first_line(error))}"
    return f"{where}: {kind} (its message is not shown, as it may hold values from the data)"


def _engine_failed(error: BaseException) -> bool:
    """Whether the engine failed, rather than the product's code or its data."""
    if isinstance(error, duckdb.Error):
        return type(error).__name__ not in duckdb_errors.USER_ERRORS
    return isinstance(error, PlatformError)


QUOTED = re.compile(r"""(?<![\w'"])[bBrRuU]{0,2}(['"])(?:(?!\1).)*\1(?!\w)""")
"""A quoted part of a message: how Python shows a value (``repr``), data or not."""
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d_.,:eE+-]*")


def without_values(text: str) -> str:
    """``text`` with quoted parts and numbers blanked: ``'ana@x.example'`` -> ``'…'``."""
    text = QUOTED.sub(lambda match: f"{match[1]}…{match[1]}", text)
    return NUMBER.sub("…", text)


def _end_with_parent() -> None:
    """End this process when the parent's end closes the pipe that is our stdin.

    The kernel is asked too (`processes.end_with_parent`), which needs no thread to run.
    """
    processes.end_with_parent()
    watched = os.dup(0)
    # The product's code gets an empty stdin, as it would have in the parent.
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)

    def watch() -> None:
        with suppress(OSError):
            while os.read(watched, 1):
                pass
        os._exit(1)

    threading.Thread(target=watch, name="quanta-parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
