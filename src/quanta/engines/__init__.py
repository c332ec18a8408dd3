"""Compute engines: run SQL or Python over bound relations and hand back Arrow data."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.model.relations import Binding


class TransformationFailed(Exception):
    """The product's own code could not run; the message says where and why.

    It never carries values from the data: only Quanta's own words, the engine's (cleaned
    of values) and the product's exception with its quoted parts blanked.
    """


@dataclass(frozen=True)
class Limits:
    """How much one session may do, and the settings that raise each limit.

    ``seconds`` is wall time from the session's start: then the engine stops what runs and
    refuses anything more. ``rows`` bounds every result the session hands over (a table,
    a stream, a Python transformation's output). The rest is for messages: ``work`` is
    what they call the session's work ("the query"), ``rows_hint`` what to do instead of
    raising the row limit.
    """

    work: str
    seconds: float | None = None
    seconds_setting: str = ""
    rows: int | None = None
    rows_setting: str = ""
    rows_hint: str = ""

    def too_long(self) -> str:
        assert self.seconds is not None, "only a time limit can be reached"
        unit = "second" if self.seconds == 1 else "seconds"
        return (
            f"{self.work} was stopped at its time limit of {self.seconds:g} {unit}: make it do "
            f"less work, or raise {self.seconds_setting}"
        )

    def too_many(self, subject: str) -> str:
        assert self.rows is not None, "only a row limit can be reached"
        hint = f"{self.rows_hint}, or " if self.rows_hint else ""
        return (
            f"{subject} has more than {self.rows:,} rows, the limit of {self.work}: "
            f"{hint}raise {self.rows_setting}"
        )


class Session(Protocol):
    """One isolated connection in which only the bound relations are readable."""

    def columns(self, sql: str) -> list[tuple[str, str]]:
        """Names and engine types of the columns ``sql`` returns, without running it."""
        ...

    def to_arrow(self, sql: str, *, limit: int | None = None) -> pa.Table:
        """The rows of ``sql``: at most ``limit`` of them, fetched as a stream.

        A result above the session's row limit is refused (`QueryRefused`), unless
        ``limit`` stops reading before it.
        """
        ...

    def row(self, sql: str) -> dict[str, Any]:
        """The one row ``sql`` returns (an aggregate's), by column name, as Python values."""
        ...

    def bind(self, binding: Binding) -> None:
        """Make one more relation visible (it must lie in a readable folder)."""
        ...

    def stream(self, sql: str) -> pa.RecordBatchReader:
        """Rows of ``sql`` with every column cast to the type it is stored as.

        Reading past the session's row limit, or past its time, raises `QueryRefused`.
        """
        ...

    def run_python(self, source: str, filename: str, function: str) -> dict[str, str]:
        """Call ``function`` of the Python code ``source`` (read from ``filename``) with the
        bound inputs; one query per output to stream (``""`` for a single table that names
        no port).

        The product's code runs in a process of its own: when it fails or ends that
        process, `TransformationFailed` says where and why; when the engine itself fails
        there (out of memory, say), `quanta.errors.PlatformError` does. Streams of one session are
        read one after the other: opening a stream may end the one before it.
        """
        ...

    def stopped(self) -> str | None:
        """Why the session's time limit stopped its work; None while it has time left."""
        ...


class Engine(Protocol):
    name: str

    def session(
        self,
        bindings: Sequence[Binding],
        *,
        also_readable: Sequence[str] = (),
        limits: Limits | None = None,
    ) -> AbstractContextManager[Session]:
        """A sandboxed session reading ``bindings``, and later bindings in ``also_readable``.

        The sandbox is in place before anything a user declared reaches the engine: the
        session reads the bindings' files (exactly those, where they are known) and the
        ``also_readable`` folders, and nothing else. With ``limits``, the session stops
        its work when its time is up and refuses results above its row limit, with a
        message naming the limit and the setting that raises it.
        """
        ...

    def export(self, sql: str, path: Path, variables: dict[str, Any]) -> int:
        """Write the rows of ``sql`` to a CSV, Parquet or JSON file; return the row count."""
        ...
