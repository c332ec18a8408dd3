"""The clock of a DuckDB session: it interrupts the connection once the session's time is up."""

from __future__ import annotations

import threading
import time

import duckdb


class Watchdog:
    """Interrupts a connection once its time is up, and again until the session ends.

    An interrupt stops the statement running at that moment, or a stream being read; a
    statement started later would run: the session refuses to start one (`expired`),
    and the repeated interrupts catch one that started in the same instant.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, seconds: float | None) -> None:
        self._deadline = None if seconds is None else time.monotonic() + seconds
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if seconds is not None:
            self._thread = threading.Thread(
                target=self._watch, args=(connection,), name="quanta-watchdog", daemon=True
            )
            self._thread.start()

    @property
    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def _watch(self, connection: duckdb.DuckDBPyConnection) -> None:
        if self._done.wait(self.remaining()):
            return
        while not self._done.is_set():
            connection.interrupt()
            self._done.wait(0.05)

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
