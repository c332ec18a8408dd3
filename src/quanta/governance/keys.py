"""The mesh's secret keys: made at random when first asked for, kept where only their owner
may read them.

A `KeyStore` hands out a key by name. `LocalKeyStore` keeps each key as one file of raw
bytes in a folder of the mesh home (``home/keys``): the folder mode 0700, each file 0600,
both owned by the user Quanta runs as. A folder or file that other users could read, or
that another user owns, is refused rather than used: a key someone else could have read,
or swapped, protects nothing.

Keys are never logged, printed or put into a message.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shlex
import stat
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from quanta.errors import ConfigError

__all__ = ["KEY_NAME", "KeyStore", "LocalKeyStore"]

KEY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""Names a key may have: lowercase letters, digits and '-', so that a name is a file name
in the folder and nothing else (no '/', no '..', no hidden file)."""

_SIZES = range(16, 1025)


class KeyStore(Protocol):
    def key(self, name: str, size: int = 32, *, create: bool = True) -> bytes:
        """The key called ``name``, ``size`` random bytes made when it is first asked for
        (with ``create``; else a missing key is a `ConfigError`).

        Asking again, from any process of the mesh, gives the same bytes. A key that
        exists with another size is refused: a name means one key.
        """
        ...


class LocalKeyStore:
    """Keys as files in ``folder`` (the caller passes ``home / "keys"``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __repr__(self) -> str:
        return f"LocalKeyStore({_shown(self.folder)!r})"

    def key(self, name: str, size: int = 32, *, create: bool = True) -> bytes:
        if not KEY_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a key name: lowercase letters, digits and '-'")
        if size not in _SIZES:
            raise ValueError(f"a key has 16 to 1024 bytes, not {size}")
        descriptor = self._open_folder()
        try:
            found = self._read(descriptor, name, size)
            if found is None and not create:
                raise ConfigError(
                    f"the key {name!r} is missing from {_shown(self.folder)}: restore that "
                    "folder from a backup of the mesh home; without the key, what was "
                    "protected with it cannot be read or matched"
                )
            if found is None:
                self._create(descriptor, name, size)
                # Ours, or the one another process linked in first: whichever is there now.
                found = self._read(descriptor, name, size)
            if found is None:
                raise ConfigError(
                    f"the key file {_shown(self.folder / name)} disappeared as it was "
                    "created: is another program removing files from that folder?"
                )
            return found
        finally:
            os.close(descriptor)

    def _open_folder(self) -> int:
        """The folder, open, made owner-only if it is new and checked to be so if not.

        Every later step works relative to this descriptor: the folder checked is the
        folder used, even if its path is swapped meanwhile.
        """
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            # The mode is given at creation (the umask can only narrow it): there is no
            # moment at which the folder is open to others.
            self.folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as error:
            raise ConfigError(
                f"cannot create the key folder {_shown(self.folder)}: {error.strerror}; "
                "the mesh home must be writable"
            ) from None
        try:
            descriptor = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except NotADirectoryError:
            raise ConfigError(
                f"{_shown(self.folder)} must be the folder of the mesh's keys, "
                "but it is a file: move it away"
            ) from None
        except OSError as error:
            raise ConfigError(
                f"cannot open the key folder {_shown(self.folder)}: {error.strerror}"
            ) from None
        try:
            _owner_only(os.fstat(descriptor), self.folder, "folder", "700")
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def _read(self, folder: int, name: str, size: int) -> bytes | None:
        """The key in ``folder``, checked; None when there is none yet."""
        path = self.folder / name
        try:
            descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise ConfigError(
                    f"the key file {_shown(path)} is a symbolic link: "
                    "a key must be a file of its own; replace the link by the file"
                ) from None
            raise ConfigError(
                f"cannot read the key file {_shown(path)}: {error.strerror}"
            ) from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise ConfigError(f"the key file {_shown(path)} is not a file: move it away")
            _owner_only(status, path, "file", "600")
            if status.st_size != size:
                # Never replaced: data may be protected with whatever key this was.
                raise ConfigError(
                    f"the key file {_shown(path)} holds {status.st_size} bytes where a key "
                    f"of {size} is expected: it is damaged or not one Quanta made; restore "
                    "it from a backup of the mesh home"
                )
            key = _read_exactly(descriptor, size)
        finally:
            os.close(descriptor)
        if len(key) != size:
            raise ConfigError(f"the key file {_shown(path)} changed while it was read: try again")
        return key

    def _create(self, folder: int, name: str, size: int) -> None:
        """Put a new random key in place, unless another process puts one there first.

        The key is written whole to a file of its own (created 0600, exclusively), then
        hard-linked to its name: a link never replaces a file, so of two processes making
        the same key at once exactly one wins, and the other reads the winner's key. A
        rename (``os.replace``) would let the second overwrite a key the first already
        used.
        """
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            descriptor = os.open(temporary, flags, 0o600, dir_fd=folder)
        except OSError as error:
            raise ConfigError(
                f"cannot create a key in {_shown(self.folder)}: {error.strerror}"
            ) from None
        try:
            try:
                _write_all(descriptor, secrets.token_bytes(size))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            try:
                os.link(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            except FileExistsError:
                pass  # another process made it first: its key is the key
            except OSError as error:
                raise ConfigError(
                    f"cannot create a key in {_shown(self.folder)}: {error.strerror}; "
                    "the key folder must be on a file system with hard links"
                ) from None
        finally:
            with suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=folder)
        os.fsync(folder)  # the new name survives a crash, as the data does


def _owner_only(status: os.stat_result, path: Path, kind: str, mode: str) -> None:
    """Refuse ``path`` unless it is owned by this process's user and closed to others."""
    user = os.geteuid()
    if status.st_uid != user:
        raise ConfigError(
            f"the key {kind} {_shown(path)} belongs to another user (uid {status.st_uid}), "
            f"not to the user Quanta runs as (uid {user}): a key someone else controls "
            f"protects nothing; if it is the mesh's, run chown {user} {_quoted(path)}"
        )
    if status.st_mode & 0o077:
        raise ConfigError(
            f"the key {kind} {_shown(path)} is open to other users "
            f"(mode {stat.S_IMODE(status.st_mode):04o}): run chmod {mode} {_quoted(path)}"
        )


def _read_exactly(descriptor: int, size: int) -> bytes:
    parts = []
    left = size + 1  # one byte more than expected: a file that grew is caught
    while left > 0:
        part = os.read(descriptor, left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _shown(path: Path) -> str:
    """A path as messages show it: relative to the working folder, never absolute (as
    `quanta.validation.folder.shown_path` does, without importing validation here)."""
    return os.path.relpath(Path(path).resolve(), Path.cwd().resolve())


def _quoted(path: Path) -> str:
    return shlex.quote(_shown(path))
