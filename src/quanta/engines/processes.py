"""Child processes for a product's own code: their scratch folders, start, memory and end.

A Python transformation runs in a process of its own (see `quanta.engines.duckdb_worker`):
it hands its tables over as files in a private scratch folder, is started so that it can
neither read Quanta's stdin nor write into its stdout, ends when Quanta does, is killed
when its time is up, and bounds its own memory (`limit_memory`). Nothing here knows the
engine.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from quanta.errors import ConfigError

PR_SET_PDEATHSIG = 1

MEMORY_SETTINGS = "buildLimits.memory in dataproduct.yaml, or QUANTA_BUILD_MEMORY_LIMIT"
"""Where a build's memory limit is set."""
HEADROOM = 768 * 2**20
"""What a product's process may hold beyond its memory limit: the interpreter and the
engine's and Arrow's libraries (about 70MB), and the address space the allocators of the
engine and of Arrow reserve ahead of use (RLIMIT_DATA counts it: with 256MB, a build
reading a three-row input failed); and per core, below."""
HEADROOM_PER_CORE = 24 * 2**20
"""Thread stacks: the engine and Arrow each start a thread per core."""
SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b|b)\s*", re.IGNORECASE)
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}

PASSED_ON = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HOME")
"""The only environment variables a child process inherits: no setting, no credential."""


def clean_environment() -> dict[str, str]:
    """This process's environment without what a child has no business reading:
    ``QUANTA_*`` settings, database passwords (``PG*``), cloud keys and the rest."""
    return {key: os.environ[key] for key in PASSED_ON if key in os.environ}


def scratch(directory: Path | None) -> Path:
    """A new private folder for one Python transformation's files; see `remove_scratch`.

    Folders that processes killed before they could clean up left behind go first.
    """
    root = (directory or Path(tempfile.gettempdir()) / "quanta").resolve()
    _remove_abandoned(root)
    for _ in range(3):
        folder = root / f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            folder.mkdir(mode=0o700)
        except FileNotFoundError:  # another session removed the empty root just now
            continue
        except OSError as error:
            raise ConfigError(
                f"cannot create a scratch folder in {root.name}/ of the mesh home: "
                f"{error.strerror}; the mesh home must be writable"
            ) from None
        return folder
    raise ConfigError(f"cannot create a scratch folder in {root.name}/: it keeps disappearing")


def remove_scratch(folder: Path) -> None:
    """Remove a scratch folder, and the folder of scratch folders when it is left empty."""
    shutil.rmtree(folder, ignore_errors=True)
    with suppress(OSError):
        folder.parent.rmdir()


def _remove_abandoned(root: Path) -> None:
    """Remove the scratch folders of processes of this machine that are gone (killed)."""
    if os.name != "posix" or not root.is_dir():
        return  # elsewhere there is no harmless way to ask whether a process lives
    host = socket.gethostname()
    for entry in root.iterdir():
        owner, _, pid = entry.name.rpartition("_")[0].rpartition("_")
        if owner == host and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(
    command: list[str],
    timeout: float | None,
    descriptors: Sequence[int] = (),
    env: dict[str, str] | None = None,
) -> int:
    """Run ``command`` to its end; its exit code. `subprocess.TimeoutExpired` past ``timeout``
    seconds, when the child has been killed already. The child inherits ``descriptors``,
    under the same numbers, and ``env`` as its whole environment (None: this process's).

    Its output goes to this process's stderr, never to stdout (which may be --json). Its
    stdin is a pipe this process never writes to: the child ends when it closes, that is
    when this process ends, killed or not (the child also asks the kernel for that, see
    `end_with_parent`). In a session of its own, the child gets no Ctrl-C from the
    terminal: this process decides when it ends; and when it does, every process the child
    started in its group ends with it.
    """
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=_stderr(),
        stderr=_stderr(),
        start_new_session=True,
        pass_fds=tuple(descriptors),
        env=env,
    ) as child:
        try:
            return child.wait(timeout=timeout)
        finally:
            # The child leads its process group: what it forked or started goes too.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def end_with_parent() -> None:
    """Ask the kernel to kill this process when the one that started it ends (Linux).

    A thread watching for that could not run while the product's code holds the GIL (a
    regular expression backtracking for hours, say); the kernel's signal needs no thread.
    """
    parent = os.getppid()
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request was made
        os._exit(1)


def memory_bytes(memory: str | None) -> int | None:
    """The bytes a memory limit as the engine takes it names (``"256MB"``, ``"2GiB"``);
    None for no limit, or one these units cannot tell."""
    found = SIZE.fullmatch(memory or "")
    if found is None:
        return None
    return int(float(found[1]) * UNITS[found[2].lower()])


def too_much_memory(work: str, memory: str) -> str:
    return f"{work} used more memory than its limit of {memory} ({MEMORY_SETTINGS})"


def limit_memory(limit: int) -> int:
    """Bound this process's data (its heap and private mappings) at ``limit`` and the
    headroom the runtime needs; what it allocates beyond fails (Python: `MemoryError`).
    Returns the bound. Never raised again by this process's user, unless it is root.
    """
    import resource

    bound = limit + HEADROOM + HEADROOM_PER_CORE * (os.cpu_count() or 1)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        bound = min(bound, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (bound, bound))
    return bound


def _stderr() -> int:
    """The file descriptor of this process's own stderr, or nowhere when it has none."""
    try:
        return sys.__stderr__.fileno() if sys.__stderr__ is not None else subprocess.DEVNULL
    except (AttributeError, OSError, ValueError):
        return subprocess.DEVNULL


def ended(code: int, process: str = "the transformation's process") -> str:
    """How a child process ended, from its exit code (negative: the signal that killed it)."""
    if code == -signal.SIGKILL:
        # Not by Quanta, whose kill at the time limit is told as that limit.
        return f"{process} was killed (SIGKILL: out of memory?)"
    if code < 0:
        with suppress(ValueError):
            return f"{process} was killed by {signal.Signals(-code).name}"
        return f"{process} was killed by signal {-code}"
    if process == "the transformation's process":
        return f"the transformation ended its process (exit code {code})"
    return f"{process} ended with exit code {code}"
