"""The sandbox's own copy of a working tree: made by the worker, used by one run, deleted.

A sandboxed command never sees the worker's checkout. It gets a copy made here, in
Python: regular files and directories copied, symbolic links copied as links (never
followed), special files (fifos, sockets, devices) left out, and every entry named
`.git` left out at any depth (the repository's history and config, and a submodule's
`.git` file). Whatever the command writes stays in that copy, which is deleted after
the run: only the exit code and the output come back to the worker. So no program of
the worker (git, the code map, the edit layer) ever runs on a tree or reads a `.git`
that the sandbox could write.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

LEFT_OUT = frozenset({".git"})


class TreeTooLarge(RuntimeError):
    """The repository does not fit in the run's scratch area (its size is the operator's
    disk limit), so its tests cannot get a copy to run on."""


def copy_tree(source: Path, dest: Path) -> None:
    """Copy `source` to the new directory `dest` as described above (no link followed)."""
    dest.mkdir(mode=0o755)
    with os.scandir(source) as entries:
        for entry in entries:
            if entry.name in LEFT_OUT:
                continue
            target = dest / entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(entry.path), target)
            elif stat.S_ISDIR(info.st_mode):
                copy_tree(Path(entry.path), target)
            elif stat.S_ISREG(info.st_mode):
                _copy_file(entry.path, target, info.st_mode)


def _copy_file(source: str, target: Path, mode: int) -> None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(source, flags), "rb") as reader, open(target, "xb") as writer:
        shutil.copyfileobj(reader, writer, 1024 * 1024)
        os.fchmod(writer.fileno(), stat.S_IMODE(mode) & 0o777)


def remove_tree(path: Path) -> None:
    """Delete a copy, also when the run left directories without write or search rights."""

    def allow_and_retry(_function: object, failed: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
                shutil.rmtree(failed, ignore_errors=True)
            else:
                os.unlink(failed)

    shutil.rmtree(path, onerror=allow_and_retry)


@contextlib.asynccontextmanager
async def work_copy(checkout: Path, scratch_root: Path | None) -> AsyncIterator[Path]:
    """A fresh copy of `checkout` (see the module's docstring), deleted on leaving."""
    holder = Path(tempfile.mkdtemp(prefix="agentops-tree-", dir=scratch_root))
    try:
        copy = holder / "tree"
        try:
            await asyncio.to_thread(copy_tree, checkout, copy)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise TreeTooLarge(
                f"the repository does not fit in the run's scratch area ({scratch_root}): "
                "raise the sandbox's disk limit"
            ) from None
        yield copy
    finally:
        await asyncio.shield(asyncio.to_thread(remove_tree, holder))
