"""Per-tree snapshots: what the last index of a directory saw, so that re-indexing it need
not read or hash a file whose size and mtime have not changed.

A snapshot is Python's marshal of plain tuples, `<sha of the tree's path>.tree.marshal`
(about ten times cheaper to read and write than JSON with a dictionary per file). When few
entries changed since, only they are written, beside it (`.tree-delta.marshal`), and read
back on top of it.
"""

from __future__ import annotations

import hashlib
import marshal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from app.codemap.symbols import FileSymbols, decode_symbols

# The layout of a snapshot's rows; a snapshot of another layout reads as empty.
SNAPSHOT_FORMAT = 2
_RACY_NS = 2_000_000_000


class TreeEntry(NamedTuple):
    size: int
    mtime_ns: int
    blob_sha: str
    language: str
    symbols: FileSymbols


@dataclass(frozen=True)
class TreeSnapshot:
    """A tree's files as last indexed. As in git, an entry whose mtime is too close to the
    moment it was recorded is not trusted: the file may have changed again within the same
    clock tick."""

    written_ns: int  # when the full snapshot was recorded
    files: dict[str, TreeEntry]
    rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # as loaded, by path
    base_paths: frozenset[str] = frozenset()  # the paths of the full snapshot
    # The entries recorded since, written alone beside it, and when they were recorded.
    delta_written_ns: int = 0
    delta_paths: frozenset[str] = frozenset()

    def unchanged(self, path: str, size: int, mtime_ns: int, language: str) -> TreeEntry | None:
        entry = self.files.get(path)
        if entry is None or (entry.size, entry.mtime_ns, entry.language) != (
            size,
            mtime_ns,
            language,
        ):
            return None
        recorded_ns = self.delta_written_ns if path in self.delta_paths else self.written_ns
        return entry if mtime_ns < recorded_ns - _RACY_NS else None


EMPTY = TreeSnapshot(written_ns=0, files={})


def tree_key(root: Path) -> str:
    return hashlib.sha1(str(root.resolve()).encode(), usedforsecurity=False).hexdigest()


def decode(data: bytes) -> tuple[int, Any] | None:
    """(written_ns, rows) of one snapshot file's bytes; None when damaged or of another layout."""
    try:
        # Our own cache directory; marshal builds data only, it runs no code.
        snapshot_format, written_ns, rows = marshal.loads(data)  # noqa: S302
    except (EOFError, TypeError, ValueError):
        return None
    return (written_ns, rows) if snapshot_format == SNAPSHOT_FORMAT else None


def snapshot_from(base: tuple[int, Any] | None, delta: tuple[int, Any] | None) -> TreeSnapshot:
    """The snapshot of a full file and the delta beside it; a delta of another base is ignored."""
    if base is None:
        return EMPTY
    try:
        written_ns, rows = base
        files: dict[str, TreeEntry] = {}
        by_path: dict[str, tuple[Any, ...]] = {}
        _add_rows(rows, files, by_path)
        base_paths = frozenset(files)
        if delta is None or delta[1][0] != written_ns:
            return TreeSnapshot(written_ns, files, by_path, base_paths)
        delta_written_ns, (_base_ns, delta_rows, removed) = delta
        _add_rows(delta_rows, files, by_path)
        for path in removed:
            files.pop(path, None)
            by_path.pop(path, None)
        delta_paths = frozenset(row[0] for row in delta_rows)
        return TreeSnapshot(written_ns, files, by_path, base_paths, delta_written_ns, delta_paths)
    except (KeyError, TypeError, ValueError):
        return EMPTY


def _add_rows(
    rows: list[tuple[Any, ...]], files: dict[str, TreeEntry], by_path: dict[str, tuple[Any, ...]]
) -> None:
    for row in rows:
        path, size, mtime_ns, blob, language, symbols = row
        files[path] = TreeEntry(size, mtime_ns, blob, language, decode_symbols(symbols))
        by_path[path] = row


def encode(
    files: dict[str, TreeEntry], previous: TreeSnapshot, encoded: Callable[[TreeEntry], bytes]
) -> tuple[str, Callable[[], bytes]]:
    """The file to write ("tree" or "tree-delta") and its bytes, made when called. A row
    holds a file's symbols as encoded for the blob cache (`encoded(entry)`, mostly bytes
    the cache already holds), so a snapshot copies them instead of encoding every
    definition again. An entry taken unchanged from the previous snapshot is written from
    its loaded row. When at most an eighth of the entries changed, only they are written,
    beside the last full snapshot."""
    written_ns = time.time_ns()

    def row(path: str, entry: TreeEntry) -> tuple[Any, ...]:
        if previous.files.get(path) is entry:
            return previous.rows[path]
        return (path, entry.size, entry.mtime_ns, entry.blob_sha, entry.language, encoded(entry))

    changed = [
        path
        for path, entry in files.items()
        if previous.files.get(path) is not entry or path in previous.delta_paths
    ]
    removed = [path for path in previous.base_paths if path not in files]
    if previous.written_ns and len(changed) + len(removed) <= len(files) // 8:
        delta = (previous.written_ns, [row(p, files[p]) for p in changed], removed)
        data = marshal.dumps((SNAPSHOT_FORMAT, written_ns, delta))
        return "tree-delta", lambda: data

    rows = [row(path, entry) for path, entry in files.items()]
    return "tree", lambda: marshal.dumps((SNAPSHOT_FORMAT, written_ns, rows))
