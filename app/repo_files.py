"""The one way the worker reads a repository's files: never through a link, never a special file.

A repository is untrusted: a committed `notes.txt -> /etc/shadow`, a `docs -> /root`
directory link or a FIFO must not make the worker read (and then send to a model, a log or
a check run) anything outside the checkout, nor hang it. So every path is walked from the
root one component at a time with `O_NOFOLLOW`: a symbolic link anywhere on the way, or as
the file itself, is refused, even one that points inside the tree (simple beats clever
here). Only regular files are read, after `fstat` of the descriptor actually opened, and
only up to a size cap. Refusals name the path and the reason, never a byte of a file.

The edit layer (app/edits/files.py) writes through the same walk (`open_directory`).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_FILE_BYTES = 4_000_000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO that replaces a checked file between lstat and open must not hang us.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class RepositoryFileRefused(ValueError):
    """A path the reader will not read: a link, a special file, too large, or outside."""


Kind = Literal["file", "dir", "link", "other"]  # "other": a FIFO, a socket, a device


@dataclass(frozen=True, slots=True)
class Entry:
    """One name in a directory, as lstat sees it."""

    name: str
    kind: Kind
    size: int
    mtime_ns: int = 0


def path_parts(path: str) -> list[str]:
    """The components of a repository-relative path (`.` and `a/../b` normalised); refuses
    absolute paths and paths that leave the root."""
    if "\0" in path:
        raise RepositoryFileRefused("the path contains a NUL character")
    normal = posixpath.normpath(path) if path else "."
    if normal.startswith("/"):
        raise RepositoryFileRefused(f"`{path}` is an absolute path, not one in the repository")
    if normal == ".." or normal.startswith("../"):
        raise RepositoryFileRefused(f"`{path}` is outside the repository")
    return [] if normal == "." else normal.split("/")


class DirectoryChain:
    """The directories along the last path walked, kept open and reused for the next one,
    so that a sorted run of paths opens each directory once (the code map reads thousands).

    Each directory is opened relative to its parent's descriptor with O_NOFOLLOW after an
    lstat: a link, or a file, where a directory is needed raises RepositoryFileRefused."""

    def __init__(self, root: Path) -> None:
        self._names: list[str] = []
        self._fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]

    def __enter__(self) -> DirectoryChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())
        self._names.clear()

    def directory(self, parts: list[str], *, create: bool = False) -> int | None:
        """A descriptor of root/parts (owned by the chain: valid until the next call); None
        when it does not exist and create is False."""
        common = 0
        while common < min(len(parts), len(self._names)) and parts[common] == self._names[common]:
            common += 1
        while len(self._names) > common:
            self._names.pop()
            os.close(self._fds.pop())
        for part in parts[common:]:
            fd = self._fds[-1]
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise RepositoryFileRefused(
                    f"`{part}` on this path is a symbolic link; links are never followed."
                )
            if not stat.S_ISDIR(info.st_mode):
                raise RepositoryFileRefused(f"`{part}` on this path is a file, not a directory.")
            self._fds.append(os.open(part, _DIR_FLAGS, dir_fd=fd))
            self._names.append(part)
        return self._fds[-1]

    def stat_entry(self, path: str) -> Entry | None:
        """What root/path is, without following a link; None when absent, or when a link or
        a file stands where the path needs a directory."""
        parts = path_parts(path)
        if not parts:
            return Entry(".", "dir", 0)
        try:
            fd = self.directory(parts[:-1])
            if fd is None:
                return None
            info = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError, RepositoryFileRefused):
            return None
        return Entry(parts[-1], _kind(info.st_mode), info.st_size, info.st_mtime_ns)

    def read_bytes(self, path: str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes | None:
        """See the module's `read_bytes`."""
        *parents, name = path_parts(path) or ["."]
        if name == ".":
            raise RepositoryFileRefused(f"`{path}` is a directory, not a file.")
        fd = self.directory(parents)
        if fd is None:
            return None
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        _check_file(path, info, max_bytes)
        try:
            file_fd = os.open(name, _FILE_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            return None
        except OSError:  # ELOOP: replaced by a link since the stat
            raise RepositoryFileRefused(f"`{path}` changed while it was read.") from None
        with os.fdopen(file_fd, "rb") as handle:
            _check_file(path, os.fstat(handle.fileno()), max_bytes)
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise RepositoryFileRefused(f"`{path}` is larger than {max_bytes} bytes.")
        return data


@contextlib.contextmanager
def open_directory(root: Path, parts: list[str], *, create: bool = False) -> Iterator[int | None]:
    """An open descriptor of root/parts, walked without following a link (None when it does
    not exist and create is False). Raises RepositoryFileRefused for a link or a file on
    the way."""
    with DirectoryChain(root) as chain:
        yield chain.directory(parts, create=create)


def read_bytes(root: Path, path: str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of the regular file root/path; None when there is no such file.

    Raises RepositoryFileRefused for a link (anywhere on the path), a directory, a special
    file or a file larger than max_bytes."""
    with DirectoryChain(root) as chain:
        return chain.read_bytes(path, max_bytes=max_bytes)


def read_text(root: Path, path: str, *, max_bytes: int = MAX_FILE_BYTES) -> str | None:
    """`read_bytes` decoded as UTF-8 (undecodable bytes replaced)."""
    data = read_bytes(root, path, max_bytes=max_bytes)
    return None if data is None else data.decode("utf-8", errors="replace")


def stat_entry(root: Path, path: str) -> Entry | None:
    """What root/path is (`Entry.kind`, size, mtime), without following a link; None when
    absent, or when a link or a file stands where the path needs a directory."""
    with DirectoryChain(root) as chain:
        return chain.stat_entry(path)


def list_directory(root: Path, path: str = ".") -> list[Entry] | None:
    """The entries of the directory root/path, sorted by name; None when there is none.

    Links are listed as links (their target is neither read nor shown)."""
    with open_directory(root, path_parts(path)) as fd:
        if fd is None:
            return None
        return _entries(fd)


def walk_files(
    root: Path, under: str = ".", *, skip_dirs: frozenset[str] = frozenset({".git"})
) -> Iterator[tuple[str, Entry]]:
    """`(path, entry)` of every regular file under root/under, depth first in name order.

    Never descends into a linked directory, never yields a link, a FIFO, a device or a
    socket; directories named in skip_dirs are left out."""
    pending = [path_parts(under)]
    with DirectoryChain(root) as chain:
        while pending:
            parts = pending.pop()
            try:
                fd = chain.directory(parts)
                entries = _entries(fd) if fd is not None else []
            except (RepositoryFileRefused, OSError):
                continue  # a link, or removed since it was listed
            prefix = "".join(f"{part}/" for part in parts)
            subdirs: list[list[str]] = []
            for entry in entries:
                if entry.kind == "file":
                    yield prefix + entry.name, entry
                elif entry.kind == "dir" and entry.name not in skip_dirs:
                    subdirs.append([*parts, entry.name])
            pending.extend(reversed(subdirs))


def _entries(fd: int) -> list[Entry]:
    found: list[Entry] = []
    with os.scandir(fd) as listing:
        for item in listing:
            try:
                info = item.stat(follow_symlinks=False)
            except OSError:
                continue
            found.append(Entry(item.name, _kind(info.st_mode), info.st_size, info.st_mtime_ns))
    return sorted(found, key=lambda entry: entry.name)


def _kind(mode: int) -> Kind:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _check_file(path: str, info: os.stat_result, max_bytes: int) -> None:
    kind = _kind(info.st_mode)
    if kind == "link":
        raise RepositoryFileRefused(f"`{path}` is a symbolic link; links are never followed.")
    if kind == "dir":
        raise RepositoryFileRefused(f"`{path}` is a directory, not a file.")
    if kind == "other":
        raise RepositoryFileRefused(f"`{path}` is not a regular file (a FIFO, socket or device).")
    if info.st_size > max_bytes:
        raise RepositoryFileRefused(f"`{path}` is larger than {max_bytes} bytes.")
