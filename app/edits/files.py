"""The thin I/O layer: reading and atomically writing repository files, never through a link.

Both go through the safe reader's walk (app/repo_files.py): every path is walked one
directory at a time from the repository root with O_NOFOLLOW, so a symbolic link anywhere
on the way (or as the file itself) is refused instead of followed, and nothing can be read
or written outside the root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from app.edits.policy import PathRefused
from app.repo_files import RepositoryFileRefused, open_directory, read_bytes


@contextlib.contextmanager
def _directory(root: Path, parts: list[str], *, create: bool) -> Iterator[int | None]:
    """`open_directory` of the safe reader, its refusals as the edit policy's."""
    try:
        with open_directory(root, parts, create=create) as fd:
            yield fd
    except RepositoryFileRefused as refused:
        raise PathRefused(str(refused)) from None


def read_repository_file(root: Path, path: str) -> bytes | None:
    """The bytes of root/path, or None when there is no such file."""
    try:
        return read_bytes(root, path)
    except RepositoryFileRefused as refused:
        raise PathRefused(str(refused)) from None


def write_repository_file(root: Path, path: str, data: bytes) -> None:
    """Replace (or create) root/path with data atomically: a temporary file, then a rename.

    An existing file keeps its permission bits.
    """
    *parents, name = path.split("/")
    with _directory(root, parents, create=True) as fd:
        assert fd is not None
        mode = 0o644
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISREG(info.st_mode):
                raise PathRefused(f"`{path}` is not a regular file.")
            mode = stat.S_IMODE(info.st_mode)
        temporary = f".{name}.agentops-{secrets.token_hex(4)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        file_fd = os.open(temporary, flags, mode, dir_fd=fd)
        try:
            with os.fdopen(file_fd, "wb") as handle:
                os.fchmod(handle.fileno(), mode)  # the mode given to open() is masked by umask
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=fd)
            raise
