"""The thin I/O layer: reading and atomically writing repository files, never through a link.

Every path is walked one directory at a time from the repository root with O_NOFOLLOW,
so a symbolic link anywhere on the way (or as the file itself) is refused instead of
followed, and nothing can be read or written outside the root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from app.edits.policy import PathRefused

MAX_FILE_BYTES = 4_000_000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def _directory(root: Path, parts: list[str], *, create: bool) -> Iterator[int | None]:
    """An open descriptor of root/parts (None when it does not exist and create is False)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    yield None
                    return
                os.mkdir(part, 0o755, dir_fd=fd)
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise PathRefused(
                    f"`{part}` on this path is a symbolic link; edits never follow links."
                )
            if not stat.S_ISDIR(info.st_mode):
                raise PathRefused(f"`{part}` on this path is a file, not a directory.")
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def read_repository_file(root: Path, path: str) -> bytes | None:
    """The bytes of root/path, or None when there is no such file."""
    *parents, name = path.split("/")
    with _directory(root, parents, create=False) as fd:
        if fd is None:
            return None
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            raise PathRefused(f"`{path}` is a symbolic link; edits never follow links.")
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused(f"`{path}` is not a regular file.")
        if info.st_size > MAX_FILE_BYTES:
            raise PathRefused(f"`{path}` is too large to edit ({info.st_size} bytes).")
        file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        with os.fdopen(file_fd, "rb") as handle:
            return handle.read()


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
