"""Build logs: one file per build, ``logs/<domain.product>/<N>.log`` in the mesh home.

A log tells what ran and how it went: the kind of build (a publish and its id, or a dev
build), the executor, the transformation file, the inputs by name, the limits and the
sandbox, each step with its time, and the outcome with each output port's row count and
the warnings. It never holds values from the data: the reasons it keeps are the build's
own (Quanta's words, and the engine's rebuilt without values by
`quanta.engines.duckdb_errors`), less the message a product's own ``raise`` wrote, which
`quanta.engines.duckdb_worker.without_values` blanks only in part (a value outside quotes
stays: the event history drops such reasons whole); of an exception that stops a build,
its kind only. A product keeps its newest `KEPT` logs; nothing else in the home is touched.

`read_logs` serves ``Mesh.logs`` and ``quanta logs``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from quanta.errors import NotFound
from quanta.model.names import ProductId
from quanta.model.relations import FileScan

if TYPE_CHECKING:
    from quanta.build.executor import BuildRequest, BuildResult, StepTold

log = logging.getLogger("quanta.build")

LOGS = "logs"
KEPT = 100
"""How many logs of one product are kept: the oldest go as new ones come."""
MAX_LINE = 2000
LOG_FILE = re.compile(r"([0-9]{1,9})\.log")
PUBLISH_PREFIX = "publish-"
OWN_MESSAGE = re.compile(r"(\S+\.py(?::[0-9]+)?): ([A-Z][A-Za-z0-9_]*): .*", re.DOTALL)
"""A reason quoting the message of a Python exception: ``transform.py:3: ValueError: ...``."""


@dataclass(frozen=True)
class LoggedBuild:
    """One build of a product, as its log's head tells it."""

    build: int
    kind: str = ""
    started: str = ""
    outcome: str = ""


@dataclass(frozen=True)
class BuildLogs:
    """One build's log, and every build of the product whose log is kept."""

    product: str
    build: int
    text: str
    builds: list[LoggedBuild] = field(default_factory=list)


class BuildLog:
    """The log of one build, written line by line as the build goes (a build killed
    half-way leaves what it had done)."""

    def __init__(self, file: IO[str] | None, number: int, started: float) -> None:
        self._file = file
        self.number = number
        self._started = started

    def line(self, text: str) -> None:
        if self._file is None:
            return
        shown = " ".join(text.split("\n"))
        if len(shown) > MAX_LINE:
            shown = shown[: MAX_LINE - 1] + "…"
        try:
            self._file.write(shown + "\n")
            self._file.flush()
        except OSError:  # a full disk stops the log, not the build
            self.close()

    def step(self, message: str) -> None:
        self.line(f"{time.perf_counter() - self._started:8.2f}s {message}")

    def close(self) -> None:
        if self._file is not None:
            with suppress(OSError):
                self._file.close()
            self._file = None


def folder_of(home: Path, product: str) -> Path:
    return home / LOGS / str(ProductId.parse(product))


@contextmanager
def build_log(
    home: Path, request: BuildRequest, executor: str, told: StepTold
) -> Iterator[tuple[BuildLog, StepTold]]:
    """A new log for ``request``'s build, and a ``told`` that logs each step too; what
    stops the build (an interrupt) is logged by its kind before it goes on."""
    started = time.perf_counter()
    opened = _open_next(folder_of(home, request.product))
    entry = BuildLog(opened[0] if opened else None, opened[1] if opened else 0, started)
    kind = "dev build" if not request.branch.startswith(PUBLISH_PREFIX) else "publish"
    entry.line(f"build {entry.number} of {request.product}")
    entry.line(f"kind: {kind} (branch {request.branch})")
    entry.line(f"started: {datetime.now(UTC).isoformat(timespec='seconds')}")
    entry.line(f"executor: {executor}")
    function = f", {request.function}()" if request.language == "python" else ""
    entry.line(f"transformation: {request.filename} ({request.language}{function})")
    entry.line(f"inputs: {_inputs(request) or 'none'}")

    def step(message: str) -> None:
        entry.step(message)
        told(message)

    try:
        yield entry, step
    except BaseException as error:
        entry.line(f"outcome: stopped ({type(error).__name__}) after {_since(started)}")
        raise
    finally:
        entry.close()


def finished(entry: BuildLog, result: BuildResult, started: float) -> None:
    """The build's outcome, its outputs' row counts and its warnings."""
    build = result.build
    entry.line(f"outcome: {build.outcome.value} in {_since(started)}")
    if build.reason:
        entry.line(f"reason: {_logged_reason(build.reason)}")
    for port in build.ports:
        entry.line(f"port {port.port}: {port.rows:,} rows, {port.bytes:,} bytes")
    for check in result.checks:
        if check.outcome.value == "warned":
            entry.line(f"warning: {check.name}: {check.reason}")


def _logged_reason(reason: str) -> str:
    found = OWN_MESSAGE.fullmatch(reason)
    if found is None:
        return reason
    return f"{found[1]}: {found[2]} (its message is not logged: it may hold values)"


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.2f}s"


def _inputs(request: BuildRequest) -> str:
    shown = []
    for binding in request.bindings:
        name = ".".join(binding.names[0]) if binding.names else "an input"
        relation = binding.relation
        if isinstance(relation, FileScan):
            shown.append(f"{name} ({relation.label or 'a source file'})")
        elif binding.columns is not None:
            count = len(binding.columns)
            shown.append(f"{name} (a product's port, {count} column{'' if count == 1 else 's'})")
        else:
            shown.append(f"{name} (a product's port)")
    return "; ".join(shown)


def _numbers(folder: Path) -> list[int]:
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return []
    return sorted(int(found[1]) for name in names if (found := LOG_FILE.fullmatch(name)))


def _open_next(folder: Path) -> tuple[IO[str], int] | None:
    """The next log file of ``folder``, created (never another build's); None when the
    home cannot take it (the build goes on, unlogged)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            numbers = _numbers(folder)
            number = (numbers[-1] if numbers else 0) + 1
            try:
                descriptor = os.open(
                    folder / f"{number}.log", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
                )
            except FileExistsError:  # another build took it just now
                continue
            for old in numbers[: max(len(numbers) + 1 - KEPT, 0)]:
                with suppress(OSError):
                    (folder / f"{old}.log").unlink()
            return os.fdopen(descriptor, "w", encoding="utf-8"), number
    except OSError as error:
        log.warning("cannot write the build's log in %s: %s", folder, error.strerror)
    return None


def read_logs(home: Path, product: str, build: int | None = None) -> BuildLogs:
    """The log of ``product``'s last build, or of build number ``build``."""
    try:
        folder = folder_of(home, product)
    except ValueError as error:
        raise NotFound(f"{error}") from None
    numbers = _numbers(folder)
    if not numbers:
        raise NotFound(
            f"no build of {product} is logged in this mesh: build or publish it first "
            "(quanta build, quanta publish)"
        )
    number = numbers[-1] if build is None else build
    if number not in numbers:
        kept = f"{numbers[0]} to {numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
        raise NotFound(
            f"{product} has no build {build} logged: its logged builds are {kept} "
            f"(quanta logs {product} --build N)"
        )
    text = (folder / f"{number}.log").read_text(encoding="utf-8", errors="replace")
    return BuildLogs(str(ProductId.parse(product)), number, text, _listed(folder, numbers))


def _listed(folder: Path, numbers: list[int]) -> list[LoggedBuild]:
    listed = []
    for number in numbers:
        head: dict[str, str] = {}
        with suppress(OSError), (folder / f"{number}.log").open(encoding="utf-8") as file:
            for line in file:
                key, _, value = line.partition(": ")
                if key in ("kind", "started", "outcome"):
                    head[key] = value.strip()
        kind, started, outcome = (head.get(key, "") for key in ("kind", "started", "outcome"))
        listed.append(LoggedBuild(number, kind, started, outcome))
    return listed
