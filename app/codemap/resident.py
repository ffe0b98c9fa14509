"""Indexes kept in memory per repository and commit, so that a long-lived process (the
worker, `agentops mcp`, the web process) ranks a known commit at once and indexes a new
commit of a known repository by reading only the files whose blobs changed.

An entry is keyed by `TreeSource`: the tenant (proven by the forge), the forge and the
repository the checkout was cloned from, and the commit. Two tenants never share an
entry, whatever their repositories are called. Entries are evicted least recently used
first, beyond a number of entries or of indexed files (the memory they hold is about
proportional to their files).
"""

from __future__ import annotations

import gc
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules
from app.codemap.index import IndexedFile, RepoIndex, build_index
from app.codemap.locate import Locator

DEFAULT_MAX_INDEXES = 4
DEFAULT_MAX_FILES = 200_000
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class RepositoryIdentity:
    """Whose code: `tenant_id` comes from the forge's proof (the App installation or the
    GitLab project's token), never from a name alone."""

    tenant_id: int
    forge: str
    repository: str  # as the forge's API names it (owner/name, group/project)


@dataclass(frozen=True, slots=True)
class TreeSource:
    repository: RepositoryIdentity
    commit: str  # the full SHA the checkout holds

    def __post_init__(self) -> None:
        if _FULL_SHA.fullmatch(self.commit) is None:
            raise ValueError(f"not a full commit SHA: {self.commit[:80]!r}")


@dataclass
class ResidentStats:
    hits: int = 0
    updates: int = 0  # built from another commit of the same repository
    cold: int = 0
    evicted: int = 0


class ResidentIndexes:
    """The process's resident indexes over one shared blob cache. Thread-safe: lookups
    never wait for an index being built; builds run one at a time (they are CPU-bound, and
    the blob cache takes one indexer at a time)."""

    def __init__(
        self,
        cache: BlobCache,
        max_indexes: int = DEFAULT_MAX_INDEXES,
        max_files: int = DEFAULT_MAX_FILES,
        rules: SkipRules | None = None,
    ) -> None:
        if max_indexes < 1 or max_files < 1:
            raise ValueError("max_indexes and max_files must be at least 1")
        self.cache = cache
        self.max_indexes = max_indexes
        self.max_files = max_files
        self.rules = rules or SkipRules()
        self.stats = ResidentStats()
        self._entries: OrderedDict[TreeSource, Locator] = OrderedDict()
        self._lock = threading.Lock()  # the entries
        self._building = threading.Lock()  # one build at a time

    def locator(self, source: TreeSource, root: Path) -> Locator:
        """The locator of `source`'s tree, checked out at `root` (which must hold exactly
        that commit: a known commit is not read again)."""
        found = self._get(source)
        if found is not None:
            return found.moved_to(root)
        with self._building:
            found = self._get(source)  # built by another thread meanwhile
            if found is not None:
                return found.moved_to(root)
            locator = self._build(source, root)
        with self._lock:
            self._entries[source] = locator
            self._evict()
        _out_of_collections()
        return locator

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _get(self, source: TreeSource) -> Locator | None:
        with self._lock:
            found = self._entries.get(source)
            if found is not None:
                self._entries.move_to_end(source)
                self.stats.hits += 1
            return found

    def _build(self, source: TreeSource, root: Path) -> Locator:
        with self._lock:
            siblings = [
                locator
                for known, locator in self._entries.items()
                if known.repository == source.repository
            ]
        known: dict[str, IndexedFile] = {}
        for sibling in siblings:  # least recently used first: the latest wins a path
            known.update(sibling.index.files)
        index = build_index(root, self.cache, self.rules, known=known, keep_snapshot=False)
        if not siblings:
            self.stats.cold += 1
            return Locator(index)
        base = min(siblings, key=lambda sibling: len(_changed(sibling.index, index)))
        self.stats.updates += 1
        return base.updated(index, _changed(base.index, index))

    def _evict(self) -> None:
        """Least recently used first, never the entry just used."""
        files = sum(len(locator.index.files) for locator in self._entries.values())
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_indexes or files > self.max_files
        ):
            _source, evicted = self._entries.popitem(last=False)
            files -= len(evicted.index.files)
            self.stats.evicted += 1


def _out_of_collections() -> None:
    """A resident index is millions of objects that live as long as it does: Python's full
    collections traversed them all (0.13–0.15 s on Django's), which made one query in
    three take 0.15 s instead of 0.05. After each build what lives is frozen out of the
    collector's reach; everything is thawed and collected first, so that what died since
    the last build (an evicted index, a finished run's objects in reference cycles) is
    freed then, not kept for ever."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _changed(old: RepoIndex, new: RepoIndex) -> set[str]:
    """The paths whose entry differs (an entry reused from `old` is the same object)."""
    changed = {path for path, entry in new.files.items() if old.files.get(path) is not entry}
    return changed | (old.files.keys() - new.files.keys())


_shared: dict[str, ResidentIndexes] = {}
_shared_lock = threading.Lock()


def shared_indexes(
    cache_dir: Path,
    max_indexes: int = DEFAULT_MAX_INDEXES,
    max_files: int = DEFAULT_MAX_FILES,
    max_bytes: int | None = None,
) -> ResidentIndexes:
    """The process's resident indexes over the blob cache in `cache_dir` (one per
    directory, made on first use with these limits, kept for the life of the process)."""
    key = str(cache_dir.expanduser().resolve())
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            cache = BlobCache(Path(key), max_bytes=max_bytes)
            found = _shared[key] = ResidentIndexes(cache, max_indexes, max_files)
        return found
