"""One repository's code map as the MCP tools use it: indexed on first use, built again
when it is older than a few seconds (the tree is an editor's checkout, and changes), and
paths from clients checked before anything is read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app import repo_files
from app.codemap import BlobCache, Locator, RepoIndex, build_index
from app.mcp.errors import ToolRefusal

FRESH_SECONDS = 10.0  # an index younger than this answers without looking at the tree again


@dataclass(frozen=True)
class Indexed:
    index: RepoIndex
    locator: Locator
    built_at: float  # time.monotonic()


class RepoMap:
    """Thread-safe: tools run in worker threads, one index build at a time."""

    def __init__(self, root: Path, cache_dir: Path | None) -> None:
        self.root = root.resolve()
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._current: Indexed | None = None

    def indexed(self) -> Indexed:
        with self._lock:
            current = self._current
            if current is None or time.monotonic() - current.built_at > FRESH_SECONDS:
                cache = BlobCache(self._cache_dir) if self._cache_dir is not None else None
                index = build_index(self.root, cache)
                if cache is not None:
                    cache.flush()
                current = Indexed(index, Locator(index), time.monotonic())
                self._current = current
            return current

    def relative(self, path: str) -> str:
        """`path` as a repository path (an absolute one must lie under the root); a tool
        error for one outside, or one whose way goes through a link."""
        given = path.strip()
        if not given:
            raise ToolRefusal("the path is empty")
        if given.startswith("/"):
            absolute = PurePosixPath(given)
            if not absolute.is_relative_to(self.root.as_posix()):
                raise ToolRefusal(f"`{given}` is outside the repository")
            given = absolute.relative_to(self.root.as_posix()).as_posix()
        try:
            parts = repo_files.path_parts(given)
            entry = repo_files.stat_entry(self.root, given)
        except repo_files.RepositoryFileRefused as exc:
            raise ToolRefusal(str(exc)) from None
        relative = "/".join(parts)
        if entry is None:
            raise ToolRefusal(
                f"`{relative}` is not a file in the repository (links are not followed)"
            )
        if entry.kind != "file":
            raise ToolRefusal(f"`{relative}` is a {entry.kind}, not a regular file")
        return relative
