"""Which host uid a sandboxed run uses when the service is root: one of its own, leased.

RLIMIT_NPROC counts every task of a uid on the machine, so two runs sharing a uid share
one process budget, and a fork bomb in one would starve the other. Each run therefore
leases a uid nobody else uses (from `SandboxPolicy.uid_pool_start`, `uid_pool_size` of
them) for its lifetime: an exclusive `flock` on `<lock dir>/<uid>.lock`, which the
kernel releases when the holder dies, so leases never leak across crashes. A uid that
still has tasks (left over from a killed worker) is skipped.
"""

from __future__ import annotations

import fcntl
import os
import random
from dataclasses import dataclass
from pathlib import Path

from app.sandbox.isolation import count_tasks_of


class NoFreeUid(RuntimeError):
    """Every uid of the pool is in use; more runs than `uid_pool_size` at once."""


@dataclass
class UidLease:
    uid: int
    _fd: int | None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def lease_uid(start: int, size: int, lock_dir: Path) -> UidLease:
    """Lease a free uid of [start, start + size) until `release()` (or process exit)."""
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    offset = random.randrange(size)  # spread concurrent workers over the pool
    for step in range(size):
        uid = start + (offset + step) % size
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if count_tasks_of(uid) == 0:
            return UidLease(uid, fd)
        os.close(fd)
    raise NoFreeUid(f"all {size} sandbox uids from {start} are in use")
