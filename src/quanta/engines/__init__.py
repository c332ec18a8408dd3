"""Compute engines: run SQL or Python over bound relations and hand back Arrow data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.model.relations import Binding


class Session(Protocol):
    """One isolated connection in which only the bound relations are readable."""

    def columns(self, sql: str) -> list[tuple[str, str]]:
        """Names and engine types of the columns ``sql`` returns, without running it."""
        ...

    def to_arrow(self, sql: str) -> pa.Table: ...

    def bind(self, binding: Binding) -> None:
        """Make one more relation visible (it must lie in a readable folder)."""
        ...

    def stream(self, sql: str) -> pa.RecordBatchReader:
        """Rows of ``sql`` with every column cast to the type it is stored as."""
        ...

    def run_python(self, function: Callable[..., Any]) -> dict[str, str]:
        """Call a Python transformation with the bound inputs; one query per output to stream.

        Streams of one session are read one after the other: opening a stream may end
        the one before it.
        """
        ...


class Engine(Protocol):
    name: str

    def session(
        self, bindings: Sequence[Binding], *, also_readable: Sequence[str] = ()
    ) -> AbstractContextManager[Session]:
        """A sandboxed session reading ``bindings``, and later bindings in ``also_readable``.

        The sandbox is in place before anything a user declared reaches the engine: the
        session reads the bindings' files (exactly those, where they are known) and the
        ``also_readable`` folders, and nothing else.
        """
        ...

    def export(self, sql: str, path: Path, variables: dict[str, Any]) -> int:
        """Write the rows of ``sql`` to a CSV, Parquet or JSON file; return the row count."""
        ...
