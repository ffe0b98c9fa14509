"""One repository's code map as the MCP tools use it, and paths from clients checked
before anything is read.

A git checkout's tree is keyed by its HEAD (and, when the work tree changed, by what
changed: app/mcp/work_tree.py) in the process's resident indexes (app/codemap/resident.py):
a query on a known tree is answered from memory, a new commit or an edit is indexed by
reading only the files whose blobs changed. A folder outside git is indexed on first use
and again when its index is older than a few seconds."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app import repo_files
from app.codemap import BlobCache, Locator, RepoIndex, build_index
from app.codemap.resident import RepositoryIdentity, ResidentIndexes, TreeSource
from app.mcp.errors import ToolRefusal
from app.mcp.work_tree import work_tree_state

FRESH_SECONDS = 10.0  # a folder outside git: an index younger than this answers as it is
_BUILD_TIMES_KEPT = 64


@dataclass(frozen=True)
class Indexed:
    index: RepoIndex
    locator: Locator
    built_at: float  # time.monotonic()
    commit: str | None = None  # None: a folder outside git
    changed: tuple[str, ...] = ()  # paths the work tree changed since `commit`


class RepoMap:
    """Thread-safe: tools run in worker threads, one lookup or build at a time."""

    def __init__(
        self,
        root: Path,
        cache_dir: Path | None,
        resident: ResidentIndexes | None = None,
        identity: RepositoryIdentity | None = None,
    ) -> None:
        self.root = root.resolve()
        self.label = str(self.root)
        self.resident = resident
        self._identity = identity or RepositoryIdentity(0, "local", str(self.root))
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._current: Indexed | None = None
        self._built: OrderedDict[str, float] = OrderedDict()  # tree key → when it was built

    def indexed(self) -> Indexed:
        with self._lock:
            state = work_tree_state(self.root) if self.resident is not None else None
            if state is None:
                return self._folder()
            source = TreeSource(self._identity, state.key)
            return self._from_resident(source, state.head, state.changed)

    def _from_resident(self, source: TreeSource, commit: str, changed: tuple[str, ...]) -> Indexed:
        assert self.resident is not None
        stats = self.resident.stats
        builds = stats.cold + stats.updates
        locator = self.resident.locator(source, self.root)
        now = time.monotonic()
        if stats.cold + stats.updates != builds or source.commit not in self._built:
            self._built[source.commit] = now
        self._built.move_to_end(source.commit)
        while len(self._built) > _BUILD_TIMES_KEPT:
            self._built.popitem(last=False)
        return Indexed(locator.index, locator, self._built[source.commit], commit, changed)

    def _folder(self) -> Indexed:
        current = self._current
        if current is None or time.monotonic() - current.built_at > FRESH_SECONDS:
            if self.resident is not None:
                cache: BlobCache | None = self.resident.cache
            else:
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
