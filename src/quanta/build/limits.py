"""A build's limits: what its product declares (``buildLimits`` in dataproduct.yaml), within
the mesh's settings, which are the defaults and the ceiling.

Memory and threads bound the build's engine, and the memory the Python transformation's
process as a whole (`quanta.engines.processes.limit_memory`); seconds bound the build's
wall time, after which its processes are killed. Whichever limit stops a build, its reason
names it and where it is set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from quanta.engines import Limits, processes
from quanta.model.product import BuildLimits, size_bytes
from quanta.settings import Settings

TIME_SETTINGS = "buildLimits.seconds in dataproduct.yaml, or QUANTA_BUILD_TIMEOUT"
OUT_OF_MEMORY = "Out of Memory Error"
"""How an engine's failure for want of memory begins (`quanta.engines.duckdb_errors`)."""


class AboveTheMesh(ValueError):
    """A product's buildLimits asks for more than the mesh allows; the message says what."""


@dataclass(frozen=True)
class BuildResources:
    """What one build may use, and where each limit comes from (for its log)."""

    limits: Limits
    memory: str | None = None
    threads: int | None = None
    origins: tuple[str, str, str] = ("", "", "")
    """Where memory, threads and seconds come from: the descriptor or the setting."""

    def describe(self) -> str:
        memory, threads, seconds = self.origins
        unit = "" if self.limits.seconds is None else f"{self.limits.seconds:g} s"
        rows = "" if self.limits.rows is None else f", {self.limits.rows:,} rows per output"
        return (
            f"memory {self.memory or 'the engine default'} ({memory}), "
            f"threads {self.threads or 'one per core'} ({threads}), "
            f"time {unit or 'none'} ({seconds}){rows}"
        )


def resolve(declared: BuildLimits | None, limits: Limits, settings: Settings) -> BuildResources:
    """The limits of a build whose product declares ``declared``; `AboveTheMesh` when it
    asks for more than the mesh's settings allow."""
    declared = declared or BuildLimits()
    mesh_memory = settings.build_memory_limit
    memory, memory_from = mesh_memory, "QUANTA_BUILD_MEMORY_LIMIT"
    if declared.memory is not None:
        ceiling = processes.memory_bytes(mesh_memory)
        if ceiling is not None and size_bytes(declared.memory) > ceiling:
            raise AboveTheMesh(_above("memory", declared.memory, mesh_memory, "MEMORY_LIMIT"))
        memory, memory_from = declared.memory, "buildLimits.memory"
    threads, threads_from = settings.build_threads, "QUANTA_BUILD_THREADS"
    if declared.threads is not None:
        if settings.build_threads is not None and declared.threads > settings.build_threads:
            raise AboveTheMesh(
                _above("threads", declared.threads, settings.build_threads, "THREADS")
            )
        threads, threads_from = declared.threads, "buildLimits.threads"
    seconds_from = "QUANTA_BUILD_TIMEOUT"
    if declared.seconds is not None:
        if limits.seconds is not None and declared.seconds > limits.seconds:
            raise AboveTheMesh(
                _above("seconds", f"{declared.seconds:g}", f"{limits.seconds:g}", "TIMEOUT")
            )
        limits = dataclasses.replace(
            limits, seconds=declared.seconds, seconds_setting=TIME_SETTINGS
        )
        seconds_from = "buildLimits.seconds"
    return BuildResources(limits, memory, threads, (memory_from, threads_from, seconds_from))


def _above(field: str, asked: object, allowed: object, setting: str) -> str:
    return (
        f"buildLimits.{field} in dataproduct.yaml asks for {asked}, more than this mesh "
        f"allows a build ({allowed}, QUANTA_BUILD_{setting}): ask for at most that, or "
        "leave it out"
    )


def memory_reason(reason: str, memory: str | None) -> str:
    """The reason of a build that ran out of memory, saying which limit it hit."""
    if not memory or OUT_OF_MEMORY not in reason or processes.MEMORY_SETTINGS in reason:
        return reason
    return f"{processes.too_much_memory('the build', memory)}: {reason}"
