"""A run's scratch area of a fixed size: where the writable copies of the checkout live.

The sandbox's own /tmp, HOME and /dev/shm are sized tmpfs of its mount namespace
(isolation.py). The tree a command runs on is bound from the host, so a run's scratch
area (`SandboxPolicy.scratch_root`: the copies the tests run on, the per-command scratch
dirs) is a tmpfs of `size_bytes` mounted there by a root service: a test that fills it
gets ENOSPC (the result says `limits hit: disk`) and the host's disk is not touched.
A service that is not root cannot mount: the area is a plain directory and only the
per-file limit (RLIMIT_FSIZE) applies there; `agentops doctor` says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def can_size_scratch() -> bool:
    """Can this process mount a sized tmpfs (root)?"""
    return os.geteuid() == 0


def ensure_sized_scratch(path: Path, size_bytes: int) -> bool:
    """`path` exists and, when this service may mount, is a tmpfs of `size_bytes`.

    Idempotent: an area already mounted (a resumed run) is kept with what it holds.
    Returns whether the area is size-limited.
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(path):
        return True
    if not can_size_scratch():
        return False
    options = f"size={size_bytes},mode=0755".encode()
    if _libc().mount(b"tmpfs", bytes(path), b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot mount a tmpfs for the run's scratch area: {os.strerror(err)}")
    return True


def release_sized_scratch(under: Path) -> None:
    """Unmount every sized area at or below `under` (before the run's folder is deleted)."""
    if not can_size_scratch():
        return
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    root = str(under.resolve())
    points = [
        line.split()[1].replace("\\040", " ") for line in mounts if line.split()[2:3] == ["tmpfs"]
    ]
    for point in sorted((p for p in points if p == root or p.startswith(root + "/")), reverse=True):
        _libc().umount2(point.encode(), MNT_DETACH)
