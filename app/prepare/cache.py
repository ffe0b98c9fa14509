"""Installed dependencies kept per tenant, keyed by what the install read (`PreparePlan.cache_key`).

Layout: `<root>/tenant-<tenant id>/<key>/` holds one entry: `deps/` (what a prepare phase
installed, copied here by the worker with every file root's, mode 0644 or 0755, links as
links, nothing special kept) and `entry.json` (its size and when it was last used). A
run leases the entries it uses (a shared `flock` on `<key>.lock`); eviction removes the
least recently used entries of the tenant, never a leased one, until the tenant is under
its size cap. Entries are only ever mounted read-only into that tenant's sandboxes: no
program of the worker runs on them or reads them beyond their directory entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.sandbox.workcopy import remove_tree

_KEY = re.compile(r"[0-9a-f]{16,64}")
_TENANT = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")


class CacheTooSmall(Exception):
    """The installed dependencies alone are larger than the tenant's cap."""


@dataclass
class CacheEntry:
    key: str
    deps: Path
    size: int
    _lock_fd: int | None

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # drops the shared lock
            self._lock_fd = None


class DependencyCache:
    def __init__(self, root: Path, tenant: str, cap_bytes: int) -> None:
        if not _TENANT.fullmatch(tenant):  # a tenant's id, never a path
            raise ValueError(f"not a tenant id: {tenant!r}")
        self.dir = root / f"tenant-{tenant}"
        self.cap_bytes = cap_bytes

    def _entry(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.dir / key

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry for `key`, leased, or None."""
        path = self._entry(key)
        if not (path / "entry.json").is_file():
            return None
        fd = self._lock(key, fcntl.LOCK_SH)
        try:
            meta = json.loads((path / "entry.json").read_text())
        except (OSError, ValueError):  # evicted meanwhile, or half written
            os.close(fd)
            return None
        meta["last_used"] = time.time()
        _write_json(path / "entry.json", meta)
        return CacheEntry(key, path / "deps", int(meta.get("size", 0)), fd)

    def publish(self, key: str, source: Path) -> CacheEntry:
        """Copy the installed tree `source` in as `key`; evict what exceeds the cap."""
        path = self._entry(key)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = self.dir / f".new-{uuid.uuid4().hex}"
        try:
            staging.mkdir(mode=0o755)
            size = copy_normalised(source, staging / "deps")
            if size > self.cap_bytes:
                raise CacheTooSmall(f"{size} bytes installed, the cache holds {self.cap_bytes}")
            _write_json(staging / "entry.json", {"size": size, "last_used": time.time()})
            fd = self._lock(key, fcntl.LOCK_EX)
            try:
                if (path / "entry.json").is_file():  # another run was first: keep theirs
                    remove_tree(staging)
                else:
                    if path.exists():
                        remove_tree(path)
                    os.rename(staging, path)
            finally:
                os.close(fd)
        except BaseException:
            if staging.exists():
                remove_tree(staging)
            raise
        entry = self.lookup(key)
        assert entry is not None
        self.evict()
        return entry

    def evict(self) -> list[str]:
        """Remove least recently used entries not leased until under the cap."""
        entries = []
        for path in self.dir.iterdir() if self.dir.is_dir() else ():
            if not _KEY.fullmatch(path.name):
                continue
            try:
                meta = json.loads((path / "entry.json").read_text())
            except (OSError, ValueError):
                continue
            entries.append((float(meta.get("last_used", 0)), int(meta.get("size", 0)), path))
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, path in sorted(entries):
            if total <= self.cap_bytes:
                break
            try:
                fd = self._lock(path.name, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # leased by a run
            try:
                remove_tree(path)
            finally:
                os.close(fd)
            total -= size
            removed.append(path.name)
        return removed

    def used_bytes(self) -> int:
        total = 0
        for path in self.dir.iterdir() if self.dir.is_dir() else ():
            with contextlib.suppress(OSError, ValueError):
                total += int(json.loads((path / "entry.json").read_text()).get("size", 0))
        return total

    def _lock(self, key: str, operation: int) -> int:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / f"{key}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, operation)
        except BaseException:
            os.close(fd)
            raise
        return fd


def _write_json(path: Path, data: dict[str, object]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def copy_normalised(source: Path, dest: Path) -> int:
    """Copy a tree the sandbox wrote: dirs 0755, files 0644 (0755 when executable), links
    as links, special files left out, owned by us; the bytes copied. No link is followed."""
    dest.mkdir(mode=0o755)
    total = 0
    with os.scandir(source) as entries:
        for entry in entries:
            target = dest / entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(entry.path), target)
            elif stat.S_ISDIR(info.st_mode):
                total += copy_normalised(Path(entry.path), target)
            elif stat.S_ISREG(info.st_mode):
                mode = 0o755 if info.st_mode & 0o111 else 0o644
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                with (
                    os.fdopen(os.open(entry.path, flags), "rb") as reader,
                    open(target, "xb") as writer,
                ):
                    shutil.copyfileobj(reader, writer, 1024 * 1024)
                    os.fchmod(writer.fileno(), mode)
                total += info.st_size
    return total
