"""Keeping the code map's cache bounded: a size cap with least-recently-used eviction
over the blob database and the tree snapshots, and pruning what nothing will read again.

When the cache passes its cap, it is brought down to `LOW_WATER` of it, oldest first:
snapshots of folders that no longer exist before anything else, then snapshots (last
loaded or written) and blob entries (last read or written, recorded in the `used` table)
in one order of last use. The cap is checked after each batch of entries is written, so
the cache may pass it by about the last write. A snapshot's folder is recorded beside
it (`<key>.root`); snapshots that lack one were written before it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

LOW_WATER = 0.8
SNAPSHOT_SUFFIXES = (".tree.marshal", ".tree-delta.marshal", ".root")


@dataclass
class Removed:
    """What a prune or an eviction removed."""

    files: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes)
    entries: int = 0
    entry_bytes: int = 0

    @property
    def bytes(self) -> int:
        return sum(size for _path, size in self.files) + self.entry_bytes


@dataclass(frozen=True)
class _Snapshot:
    paths: tuple[str, ...]
    size: int
    used: float  # last loaded or written
    gone: bool  # its folder is no longer there (or was never recorded)


def touch_used(connection: sqlite3.Connection, blobs: set[str]) -> None:
    """Record that these blobs' entries were just read or written."""
    now = int(time.time())
    connection.executemany("INSERT OR REPLACE INTO used VALUES (?, ?)", [(b, now) for b in blobs])


def cache_bytes(connection: sqlite3.Connection, root: str) -> int:
    """The pages the database uses (free pages are reused) plus the snapshot files."""
    return _database_bytes(connection) + sum(s.size for s in _snapshots(root))


def enforce_cap(
    connection: sqlite3.Connection, root: str, database: str, max_bytes: int
) -> Removed:
    """When the cache takes more than max_bytes on disk: give free pages and the write-ahead
    log back, then, if still over, evict least recently used first down to LOW_WATER ×
    max_bytes."""
    removed = Removed()
    snapshots = _snapshots(root)
    if _files_bytes(database) + sum(s.size for s in snapshots) <= max_bytes:
        return removed
    shrink(connection)
    total = _files_bytes(database) + sum(s.size for s in snapshots)
    if total <= max_bytes:
        return removed
    total = _database_bytes(connection) + sum(s.size for s in snapshots)
    target = int(max_bytes * LOW_WATER)
    rows = connection.execute(
        "SELECT e.rowid, length(e.data) + length(e.blob) + length(e.kind), coalesce(u.at, 0) "
        "FROM entry e LEFT JOIN used u ON u.blob = e.blob"
    ).fetchall()
    candidates: list[tuple[float, int, _Snapshot | int]] = [
        (-1.0 if s.gone else s.used, s.size, s) for s in snapshots
    ]
    candidates += [(float(at), size, rowid) for rowid, size, at in rows]
    candidates.sort(key=lambda c: c[0])
    doomed: list[tuple[int]] = []
    for _used, size, what in candidates:
        if total <= target:
            break
        total -= size
        if isinstance(what, _Snapshot):
            _remove_snapshot(what, removed)
        else:
            doomed.append((what,))
            removed.entries += 1
            removed.entry_bytes += size
    if doomed:
        with connection:
            connection.executemany("DELETE FROM entry WHERE rowid = ?", doomed)
            connection.execute("DELETE FROM used WHERE blob NOT IN (SELECT blob FROM entry)")
        shrink(connection)
    return removed


def shrink(connection: sqlite3.Connection) -> None:
    """Give the database's free pages back (when made with auto_vacuum) and empty its log."""
    connection.execute("PRAGMA incremental_vacuum").fetchall()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _files_bytes(database: str) -> int:
    size = 0
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            size += os.stat(database + suffix).st_size
    return size


def prune_snapshots(root: str) -> Removed:
    """Remove the snapshots whose folder no longer exists (or is not recorded)."""
    removed = Removed()
    for snapshot in _snapshots(root):
        if snapshot.gone:
            _remove_snapshot(snapshot, removed)
    return removed


def prune_other_versions(directory: Path, keep: str, database: str) -> Removed:
    """Remove the caches of other extractor versions (`v*` beside `keep`), and the
    databases of other layouts, set-aside damaged ones and unfinished writes in `keep`.

    No link is followed: a `v*` link is removed itself (what it points to stays), and a
    folder's size counts its own files only."""
    removed = Removed()
    if not os.path.isdir(directory):
        return removed
    for entry in _entries(str(directory)):
        if not entry.name.startswith("v") or entry.path == keep:
            continue
        if entry.is_symlink():
            os.unlink(entry.path)
            removed.files.append((entry.path, 0))
        elif entry.is_dir(follow_symlinks=False):
            size = _tree_bytes(entry.path)
            shutil.rmtree(entry.path)
            removed.files.append((entry.path, size))
    kept = {database, database + "-wal", database + "-shm"}
    if os.path.islink(keep) or not os.path.isdir(keep):
        return removed
    for entry in _entries(keep):
        stale = entry.name.startswith("blobs") and entry.path not in kept
        if (stale or entry.name.startswith(".tmp-")) and entry.is_file(follow_symlinks=False):
            removed.files.append((entry.path, entry.stat(follow_symlinks=False).st_size))
            os.unlink(entry.path)
    return removed


def _entries(folder: str) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda e: e.name)


def _tree_bytes(folder: str) -> int:
    """The bytes of the regular files under `folder`, no link followed."""
    size = 0
    for dirpath, _dirnames, filenames in os.walk(folder):  # followlinks=False
        for name in filenames:
            with suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISREG(st.st_mode):
                    size += st.st_size
    return size


def _database_bytes(connection: sqlite3.Connection) -> int:
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    size = connection.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _snapshots(root: str) -> list[_Snapshot]:
    by_key: dict[str, list[os.DirEntry[str]]] = {}
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                for suffix in SNAPSHOT_SUFFIXES:
                    if entry.name.endswith(suffix) and entry.is_file(follow_symlinks=False):
                        by_key.setdefault(entry.name[: -len(suffix)], []).append(entry)
    except FileNotFoundError:
        return []
    found = []
    for key, files in by_key.items():
        stats = [f.stat(follow_symlinks=False) for f in files]
        found.append(
            _Snapshot(
                tuple(f.path for f in files),
                sum(s.st_size for s in stats),
                max(s.st_mtime for s in stats),
                not _folder_exists(f"{root}/{key}.root"),
            )
        )
    return found


def _folder_exists(root_file: str) -> bool:
    try:
        with open(root_file, encoding="utf-8") as handle:
            return os.path.isdir(handle.read())
    except (OSError, UnicodeDecodeError):
        return False


def _remove_snapshot(snapshot: _Snapshot, removed: Removed) -> None:
    for path in snapshot.paths:
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            continue  # another process removed it first
        removed.files.append((path, size))
