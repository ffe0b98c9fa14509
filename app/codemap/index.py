"""Indexing a tree: discover files, reuse cached extractions, parse the rest."""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from app import repo_files
from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules, SourceFile, discover_files, git_blob_sha
from app.codemap.extract import extract_symbols, extract_words
from app.codemap.snapshot import TreeEntry
from app.codemap.symbols import FileSymbols, FileWords

log = logging.getLogger(__name__)

# Called as progress(done, total) while files are indexed.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class IndexedFile:
    path: str
    blob_sha: str
    symbols: FileSymbols
    words: FileWords | None  # read on demand by RepoIndex.words


@dataclass
class IndexStats:
    files: int = 0
    bytes_read: int = 0
    parsed: int = 0
    cache_hits: int = 0
    skipped_by_rule: int = 0
    skipped_by_content: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    languages: Counter[str] = field(default_factory=Counter)
    symbols: int = 0
    seconds: float = 0.0


@dataclass
class RepoIndex:
    root: Path
    files: dict[str, IndexedFile]
    stats: IndexStats
    cache: BlobCache | None = None

    def words(self, path: str) -> FileWords:
        """A file's references and terms, from memory, the cache, or the file itself."""
        indexed = self.files[path]
        if indexed.words is not None:
            return indexed.words
        words = self.cache.get_words(indexed.blob_sha) if self.cache else None
        if words is None:
            with repo_files.DirectoryChain(self.root) as tree:
                words = extract_words(_read(tree, path))
            if self.cache is not None:
                self.cache.put_words(indexed.blob_sha, words)
        self.files[path] = IndexedFile(path, indexed.blob_sha, indexed.symbols, words)
        return words

    def all_words(self) -> dict[str, FileWords]:
        """Every file's words; those not cached yet are written in one batch."""
        with self.cache.deferred_writes() if self.cache is not None else nullcontext():
            return {path: self.words(path) for path in self.files}


def build_index(
    root: Path,
    cache: BlobCache | None = None,
    rules: SkipRules | None = None,
    progress: Progress | None = None,
    known: Mapping[str, IndexedFile] | None = None,
    keep_snapshot: bool = True,
) -> RepoIndex:
    """Index every readable source file under root; a file that fails is logged and left out.

    known: files indexed from another commit of the same repository with the same rules:
    a file with the same path and blob is taken from it as it is (words included).
    keep_snapshot: record what was seen for the next index of this same folder
    (snapshot.py); a folder indexed once need not."""
    started = time.perf_counter()
    reuse = _Reuse(cache, known or {}, keep_snapshot)
    with _collector_paused():
        if cache is None:
            return _build_index(root, reuse, rules, progress, started)
        with cache.deferred_writes():
            return _build_index(root, reuse, rules, progress, started)


@dataclass(frozen=True)
class _Reuse:
    cache: BlobCache | None
    known: Mapping[str, IndexedFile]
    keep_snapshot: bool


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while indexing. An index allocates hundreds
    of thousands of tuples and makes no reference cycles, and every automatic full
    collection walks all the objects of the process: in a process that already holds a
    few indexes, that was a quarter of a re-index (0.12-0.15 s of 0.5 s on Django)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_index(
    root: Path,
    reuse: _Reuse,
    rules: SkipRules | None,
    progress: Progress | None,
    started: float,
) -> RepoIndex:
    rules = rules or SkipRules()
    sources, skipped = discover_files(root, rules)
    stats = IndexStats(skipped_by_rule=skipped)
    files: dict[str, IndexedFile] = {}
    cache = reuse.cache
    previous = cache.load_tree(root) if cache is not None and reuse.keep_snapshot else None
    seen: dict[str, TreeEntry] = {}
    parsed_here: dict[tuple[str, str], FileSymbols] = {}  # blobs shared within this tree
    with repo_files.DirectoryChain(root) as tree:
        for done, source in enumerate(sources, 1):
            if progress is not None and (done % 200 == 0 or done == len(sources)):
                progress(done, len(sources))
            entry = (
                previous.unchanged(source.path, source.size, source.mtime_ns, source.language)
                if previous
                else None
            )
            known = reuse.known.get(source.path)
            try:
                if known is not None and source.blob_sha == known.blob_sha:
                    stats.cache_hits += 1
                    indexed = known
                elif entry is not None and source.blob_sha in (None, entry.blob_sha):
                    stats.cache_hits += 1
                    indexed = IndexedFile(source.path, entry.blob_sha, entry.symbols, None)
                    seen[source.path] = entry  # the same object: saved from its loaded row
                else:
                    indexed = _index_one(tree, source, cache, stats, parsed_here, known)
                if reuse.keep_snapshot and source.path not in seen:
                    seen[source.path] = TreeEntry(
                        source.size,
                        source.mtime_ns,
                        indexed.blob_sha,
                        source.language,
                        indexed.symbols,
                    )
            except Exception as exc:  # one bad file must never fail the whole index
                log.warning("codemap: cannot index %s: %s", source.path, exc)
                stats.failed.append(source.path)
                continue
            if indexed.symbols.skipped:
                stats.skipped_by_content[indexed.symbols.skipped] += 1
                continue
            files[source.path] = indexed
            stats.languages[source.language] += 1
            stats.symbols += len(indexed.symbols.definitions)
    stats.files = len(files)
    if cache is not None and previous is not None and seen != previous.files:
        cache.save_tree(root, seen, previous)
    stats.seconds = time.perf_counter() - started
    return RepoIndex(root=root, files=files, stats=stats, cache=cache)


def _index_one(
    tree: repo_files.DirectoryChain,
    source: SourceFile,
    cache: BlobCache | None,
    stats: IndexStats,
    parsed_here: dict[tuple[str, str], FileSymbols],
    known: IndexedFile | None,
) -> IndexedFile:
    path, language, blob_sha = source.path, source.language, source.blob_sha
    content: bytes | None = None
    if blob_sha is None:
        content = _read(tree, path, source.size)
        stats.bytes_read += len(content)
        blob_sha = git_blob_sha(content)
        if known is not None and known.blob_sha == blob_sha:
            stats.cache_hits += 1
            return known
    symbols = parsed_here.get((blob_sha, language))
    if symbols is None and cache is not None:
        symbols = cache.get_symbols(blob_sha, language)
    if symbols is not None:
        stats.cache_hits += 1
        return IndexedFile(path, blob_sha, symbols, None)
    if content is None:
        content = _read(tree, path, source.size)
        stats.bytes_read += len(content)
    symbols = extract_symbols(language, content)
    parsed_here[(blob_sha, language)] = symbols
    stats.parsed += 1
    if cache is not None:
        cache.put_symbols(blob_sha, language, symbols)
    return IndexedFile(path, blob_sha, symbols, None)


def _read(tree: repo_files.DirectoryChain, path: str, size: int = -1) -> bytes:
    """The file's bytes, read by the safe reader (never through a link, never a FIFO)."""
    data = tree.read_bytes(path, max_bytes=max(size, repo_files.MAX_FILE_BYTES))
    if data is None:
        raise FileNotFoundError(path)
    return data
