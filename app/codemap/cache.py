"""A content-addressed store of extraction results, keyed by git blob SHA.

The key is (extractor version, language, blob SHA), so re-indexing after a commit parses
only the blobs that changed, and two checkouts that share a blob share its entry. An entry
holds either a file's symbols (`<sha>.<language>.json`, written by indexing) or its words
(`<sha>.words.json`, written the first time ranking needs them). Entries are written
atomically; a damaged entry reads as a miss. Beside them, one snapshot per indexed tree
(`<sha of the tree's path>.tree.marshal`: Python's marshal of plain tuples) lets a
re-index of that tree skip unchanged files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from app.codemap.extract import EXTRACTOR_VERSION
from app.codemap.symbols import Definition, FileSymbols, FileWords

DEFAULT_CACHE_DIR = Path("~/.cache/agentops/codemap")

log = logging.getLogger(__name__)


class BlobCache:
    """Extraction results on disk under `directory/v<version>/<sha[:2]>/<sha>.<kind>.json`."""

    def __init__(self, directory: Path, version: str = EXTRACTOR_VERSION) -> None:
        self.root = str(directory.expanduser() / f"v{version}")
        # Creating a file costs about a millisecond here, as much as parsing a small one:
        # entries are encoded and written by background threads while the index goes on.
        # Reading an entry still being written waits for it; a failed write is logged.
        self._writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="codemap-cache")
        self._pending: dict[str, Future[None]] = {}
        # The <sha[:2]> directories that existed at the start, and the entries written
        # since: any other lookup is a miss without a failed open() (a cold index would
        # pay one per file).
        try:
            self._directories = set(os.listdir(self.root))
        except OSError:
            self._directories = set()
        self._written: set[str] = set()
        # Entries put while an index runs, written when it ends (see deferred_writes).
        self._deferring = 0
        self._deferred: dict[str, Callable[[], bytes]] = {}

    @contextmanager
    def deferred_writes(self) -> Iterator[None]:
        """Hold the entries put inside this block in memory and hand them to the writer
        threads at its end. Written during a cold index, they slowed the parsing by more
        than writing them all after it costs: each writer step waits for the GIL that the
        indexing thread holds while it parses, and takes it back from it."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if not self._deferring and self._deferred:
                deferred, self._deferred = list(self._deferred.items()), {}
                for chunk in (deferred[0::2], deferred[1::2]):
                    future = self._writer.submit(_write_all, chunk)
                    future.add_done_callback(_log_failure)
                    self._pending.update((path, future) for path, _ in chunk)

    def flush(self) -> None:
        """Wait until every entry put so far is on disk; raise the first write error."""
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.result()

    def _path(self, blob_sha: str, kind: str) -> str:
        return f"{self.root}/{blob_sha[:2]}/{blob_sha}.{kind}.json"

    def _read(self, blob_sha: str, kind: str) -> Any:
        path = self._path(blob_sha, kind)
        held = self._deferred.get(path)
        if held is not None:
            return json.loads(held())
        writing = self._pending.get(path)
        if writing is not None:
            try:
                writing.result()
            except OSError:
                return None
        elif blob_sha[:2] not in self._directories and path not in self._written:
            return None
        try:
            with open(path, "rb") as handle:
                return json.loads(handle.read())
        except (OSError, ValueError):
            return None

    def _write(self, blob_sha: str, kind: str, data: Callable[[], bytes]) -> None:
        path = self._path(blob_sha, kind)
        self._written.add(path)
        if self._deferring:
            self._deferred[path] = data
            return
        future = self._writer.submit(_write_atomically, path, data)
        future.add_done_callback(_log_failure)
        self._pending[path] = future
        if len(self._pending) > 4096:
            self._pending = {p: f for p, f in self._pending.items() if not f.done()}

    def get_symbols(self, blob_sha: str, language: str) -> FileSymbols | None:
        data = self._read(blob_sha, language)
        try:
            return symbols_from_json(data) if data is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    def put_symbols(self, blob_sha: str, language: str, symbols: FileSymbols) -> None:
        encoded = _encode(symbols_to_json(symbols))  # here: in a thread it slows the parsing
        self._write(blob_sha, language, lambda: encoded)

    def get_words(self, blob_sha: str) -> FileWords | None:
        data = self._read(blob_sha, "words")
        try:
            return FileWords(data["identifiers"]) if data is not None else None
        except (KeyError, TypeError):
            return None

    def put_words(self, blob_sha: str, words: FileWords) -> None:
        encoded = _encode({"identifiers": words.identifiers})
        self._write(blob_sha, "words", lambda: encoded)

    def load_tree(self, root: Path) -> TreeSnapshot:
        """What the last index of this tree saw, or an empty snapshot."""
        key = _tree_key(root)
        base = self._load_snapshot_file(f"{self.root}/{key}.tree.marshal")
        if base is None:
            return TreeSnapshot(written_ns=0, files={})
        try:
            written_ns, rows = base
            files: dict[str, TreeEntry] = {}
            by_path: dict[str, tuple[Any, ...]] = {}
            _add_rows(rows, files, by_path)
            base_paths = frozenset(files)
            delta = self._load_snapshot_file(f"{self.root}/{key}.tree-delta.marshal")
            if delta is None or delta[1][0] != written_ns:
                return TreeSnapshot(written_ns, files, by_path, base_paths)
            delta_written_ns, (_base_ns, delta_rows, removed) = delta
            _add_rows(delta_rows, files, by_path)
            for path in removed:
                files.pop(path, None)
                by_path.pop(path, None)
            delta_paths = frozenset(row[0] for row in delta_rows)
            return TreeSnapshot(
                written_ns, files, by_path, base_paths, delta_written_ns, delta_paths
            )
        except (KeyError, TypeError, ValueError):
            return TreeSnapshot(written_ns=0, files={})

    def _load_snapshot_file(self, path: str) -> tuple[int, Any] | None:
        writing = self._pending.get(path)
        try:
            if writing is not None:
                writing.result()
            with open(path, "rb") as handle:
                # Our own cache directory; marshal builds data only, it runs no code.
                snapshot_format, written_ns, rows = marshal.loads(handle.read())  # noqa: S302
        except (OSError, EOFError, TypeError, ValueError):
            return None
        return (written_ns, rows) if snapshot_format == _SNAPSHOT_FORMAT else None

    def save_tree(
        self, root: Path, files: dict[str, TreeEntry], previous: TreeSnapshot | None = None
    ) -> None:
        """One marshal file of plain tuples: about ten times cheaper to read back and to
        write than JSON with a dictionary per file, which a re-index paid both ways. An
        entry taken unchanged from the previous snapshot is written from its loaded row.
        When few entries changed, only they are written, beside the last full snapshot."""
        written_ns = time.time_ns()
        reuse = previous if previous is not None else TreeSnapshot(written_ns=0, files={})
        key = _tree_key(root)

        def row(path: str, entry: TreeEntry) -> tuple[Any, ...]:
            return (
                reuse.rows[path] if reuse.files.get(path) is entry else _snapshot_row(path, entry)
            )

        changed = [
            path
            for path, entry in files.items()
            if reuse.files.get(path) is not entry or path in reuse.delta_paths
        ]
        removed = [path for path in reuse.base_paths if path not in files]
        if reuse.written_ns and len(changed) + len(removed) <= len(files) // 8:
            path = f"{self.root}/{key}.tree-delta.marshal"
            delta = (reuse.written_ns, [row(p, files[p]) for p in changed], removed)
            encoded = marshal.dumps((_SNAPSHOT_FORMAT, written_ns, delta))
            future = self._writer.submit(_write_atomically, path, lambda: encoded)
        else:
            path = f"{self.root}/{key}.tree.marshal"

            def data() -> bytes:
                rows = [row(path, entry) for path, entry in files.items()]
                return marshal.dumps((_SNAPSHOT_FORMAT, written_ns, rows))

            future = self._writer.submit(_write_atomically, path, data)
        future.add_done_callback(_log_failure)
        self._pending[path] = future


def _add_rows(
    rows: list[tuple[Any, ...]], files: dict[str, TreeEntry], by_path: dict[str, tuple[Any, ...]]
) -> None:
    definition = partial(tuple.__new__, Definition)  # no per-row Python call
    for row in rows:
        path, size, mtime_ns, blob, language, defs, imports, lines, skipped, errors = row
        symbols = FileSymbols(
            language, tuple(map(definition, defs)), imports, lines, skipped, errors
        )
        files[path] = TreeEntry(size, mtime_ns, blob, language, symbols)
        by_path[path] = row


# The layout of a tree snapshot's rows; a snapshot of another layout reads as empty.
_SNAPSHOT_FORMAT = 1


def _snapshot_row(path: str, entry: TreeEntry) -> tuple[Any, ...]:
    symbols = entry.symbols
    return (
        path,
        entry.size,
        entry.mtime_ns,
        entry.blob_sha,
        entry.language,
        tuple(map(tuple, symbols.definitions)),  # marshal takes plain tuples only
        symbols.imports,
        symbols.lines,
        symbols.skipped,
        symbols.parse_errors,
    )


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("codemap: cannot write a cache entry: %s", exc)


def _encode(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


_made_directories: set[str] = set()


def _write_all(entries: list[tuple[str, Callable[[], bytes]]]) -> None:
    failed: OSError | None = None
    for path, produce in entries:
        try:
            _write_atomically(path, produce)
        except OSError as exc:
            failed = failed or exc
    if failed is not None:
        raise failed


def _write_atomically(path: str, produce: Callable[[], bytes]) -> None:
    # Few steps, each a system call: the writer threads need the GIL once per step, and
    # while the indexing thread parses they wait for it (tempfile.mkstemp took a dozen).
    data = memoryview(produce())
    directory = path[: path.rfind("/")]
    if directory not in _made_directories:
        os.makedirs(directory, exist_ok=True)
        _made_directories.add(directory)
    tmp = f"{directory}/.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:  # the directory was removed since it was made
        os.makedirs(directory, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TreeEntry(NamedTuple):
    size: int
    mtime_ns: int
    blob_sha: str
    language: str
    symbols: FileSymbols


@dataclass(frozen=True)
class TreeSnapshot:
    """A tree's files as last indexed, so that re-indexing the same tree need not read or
    hash a file whose size and mtime have not changed. As in git, an entry whose mtime is
    too close to the moment it was recorded is not trusted: the file may have changed again
    within the same clock tick."""

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


_RACY_NS = 2_000_000_000


def _tree_key(root: Path) -> str:
    return hashlib.sha1(str(root.resolve()).encode(), usedforsecurity=False).hexdigest()


def symbols_to_json(symbols: FileSymbols) -> dict[str, Any]:
    return {
        "language": symbols.language,
        "definitions": [
            [d.name, d.qualname, d.kind, d.signature, d.start_line, d.end_line]
            for d in symbols.definitions
        ],
        "imports": list(symbols.imports),
        "lines": symbols.lines,
        "skipped": symbols.skipped,
        "parse_errors": symbols.parse_errors,
    }


def symbols_from_json(data: dict[str, Any]) -> FileSymbols:
    return FileSymbols(
        language=data["language"],
        definitions=tuple(map(Definition._make, data["definitions"])),
        imports=tuple(data["imports"]),
        lines=data["lines"],
        skipped=data["skipped"],
        parse_errors=data["parse_errors"],
    )
