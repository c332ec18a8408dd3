"""The file system sandbox of a build's processes: Landlock, through a small ctypes binding.

A process confines itself (`confine`) before it runs anything a product wrote: from then
on it, and every process it starts, opens only the files beneath the `Rules`' paths, may
not ptrace-read a process outside its sandbox (whose ``/proc/<pid>/environ``, memory and
descriptors are then refused, even to the same user) and, where the kernel's Landlock ABI
has it (6), may neither signal such a process nor reach its abstract Unix sockets. Landlock
needs no privilege. It binds the calling thread and the threads and processes it starts
afterwards, never the threads that run already: callers confine themselves before they
load an engine.

Where the kernel has no Landlock, `confine` changes nothing and its `Status` says so: the
build goes on, unsandboxed, and its log and steps tell it.

Why not the PyPI package ``landlock`` (1.0.0.dev5): an alpha that knows file rights only
(no ABI 6 scoping, no way to hand ``scoped`` to the kernel), takes a stale ``errno`` for a
failure, refuses a rule on a file when directory rights are asked, and ships no types.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The system calls, numbered alike on every architecture Linux has added them to.
CREATE_RULESET = 444
ADD_RULE = 445
RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

# File system rights (include/uapi/linux/landlock.h), and the ABI that brought each.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The rights a rule on a file (not a folder) may grant."""
READ = READ_FILE | READ_DIR | EXECUTE
WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | REFER | TRUNCATE
"""No links: a link left where a less confined process reads (its parent, handed the files
of a scratch folder) would point it at a file of the confined one's choosing."""
DEVICE = READ_FILE | WRITE_FILE


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


@dataclass(frozen=True)
class Status:
    """Whether a process is sandboxed, in words for its build's log."""

    abi: int
    """The Landlock ABI the sandbox used; 0 when there is none."""
    reason: str = ""
    """Why there is no sandbox, when there is none."""

    @property
    def sandboxed(self) -> bool:
        return self.abi > 0

    def describe(self) -> str:
        if not self.sandboxed:
            return f"none, the build ran unsandboxed: {self.reason}"
        scoped = "; signals and abstract sockets scoped" if self.abi >= 6 else ""
        return f"Landlock ABI {self.abi}: files of its inputs only, no ptrace{scoped}"


@dataclass
class Rules:
    """What a confined process may open: beneath ``readable`` to read (and run), beneath
    ``writable`` to change too, and the ``devices`` to read and write."""

    readable: set[str] = field(default_factory=set)
    writable: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=lambda: {"/dev/null", "/dev/zero", "/dev/urandom"})


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _syscall(libc: ctypes.CDLL, *arguments: object) -> int:
    """The system call's result; `OSError` with its errno when it failed."""
    ctypes.set_errno(0)
    result = int(libc.syscall(*arguments))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def abi() -> Status:
    """The Landlock ABI of this kernel, or why there is none."""
    if not sys.platform.startswith("linux"):
        return Status(0, f"Landlock is Linux's, and this system is {sys.platform}")
    try:
        version = _syscall(
            _libc(),
            ctypes.c_long(CREATE_RULESET),
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(CREATE_RULESET_VERSION),
        )
    except OSError as error:
        if error.errno == errno.EOPNOTSUPP:
            return Status(0, "Landlock is disabled in this kernel (add landlock to its lsm= list)")
        return Status(0, "this kernel has no Landlock (Linux 5.13 or later has it)")
    except (AttributeError, TypeError):  # no C library to call through
        return Status(0, "this system's C library has no syscall()")
    return Status(version)


def _handled(version: int) -> int:
    rights = (1 << 13) - 1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


def confine(rules: Rules) -> Status:
    """Confine this process, and whatever it starts, to ``rules`` (for good).

    Paths that do not exist are left out. Without Landlock nothing changes; the `Status`
    says why.
    """
    status = abi()
    if not status.sandboxed:
        return status
    libc = _libc()
    handled = _handled(status.abi)
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if status.abi >= 6 else 0
    # From ABI 4 TCP is handled too, and no rule allows any port: a build connects to
    # nothing and listens on nothing (it needs no network: its files are local).
    network = NET_BIND_TCP | NET_CONNECT_TCP if status.abi >= 4 else 0
    attr = _RulesetAttr(handled, network, scoped)
    size = ctypes.sizeof(_RulesetAttr) if scoped or network else ctypes.sizeof(ctypes.c_uint64)
    ruleset = _syscall(
        libc,
        ctypes.c_long(CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    try:
        for paths, rights in (
            (rules.readable, READ),
            (rules.writable, WRITE),
            (rules.devices, DEVICE),
        ):
            for path in sorted(paths):
                _allow(libc, ruleset, path, rights & handled)
        # Without it an unprivileged process may not confine itself (and a setuid
        # program it runs could not gain more than it has).
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        _syscall(libc, ctypes.c_long(RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return status


_PINNED: list[int] = []
"""Descriptors kept open on the /proc entries a rule names: /proc makes a new inode for an
entry whose cached one it dropped, and a rule names an inode."""


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        # O_PATH follows links, /proc/self/fd/N ones too: the rule is on the file itself.
        descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # nothing there to allow
    if path.startswith("/proc/"):
        _PINNED.append(descriptor)
    try:
        if not Path(f"/proc/self/fd/{descriptor}").is_dir():
            rights &= FILE_RIGHTS
        if not rights:
            return
        rule = _PathBeneathAttr(rights, descriptor)
        _syscall(
            libc,
            ctypes.c_long(ADD_RULE),
            ctypes.c_int(ruleset),
            ctypes.c_int(RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
    finally:
        if descriptor not in _PINNED:
            os.close(descriptor)


# -- what a build's process needs --------------------------------------------------------------

SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin")
"""System programs and libraries (the C library, ld.so, locales, time zones)."""
SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/locale.alias",
    "/etc/mime.types",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/sys/vm/overcommit_memory",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
)
"""The few system files a runtime reads: the loader's cache, the zone, the machine's size
(and, in its own /proc entry, its cgroup: DuckDB aborts when it cannot read that)."""


def python_runtime() -> set[str]:
    """The Python installation and the folders this interpreter imports from (the venv's
    site-packages and Quanta's own code among them), never the root folder."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    found.update(entry for entry in sys.path if entry and Path(entry).is_absolute())
    found.add(str(Path(sys.executable).resolve().parent))
    return {path for path in found if Path(path).resolve() != Path("/")}


def own_processes() -> set[str]:
    """This process's ``/proc`` entry, and the ``stat`` and ``status`` of its ancestors.

    Code that walks up its process tree (as ``ps`` does) still works; nothing else of
    another process is readable: not its environment, memory maps or command line (the
    kernel's ptrace check does not refuse every one of those to a sandboxed process).
    """
    found = {f"/proc/{os.getpid()}"}
    pid = os.getppid()
    while pid > 1:
        found.update((f"/proc/{pid}/stat", f"/proc/{pid}/status"))
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def runtime_rules(*, readable: Iterable[str] = (), writable: Iterable[str] = ()) -> Rules:
    """The rules of a build's process: the runtime, the system, its own /proc entries,
    and the given paths."""
    rules = Rules()
    rules.readable.update(SYSTEM, SYSTEM_FILES, python_runtime(), own_processes(), readable)
    rules.writable.update(writable)
    return rules
