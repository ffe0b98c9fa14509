"""A content-addressed store of extraction results, keyed by git blob SHA.

The key is (extractor version, blob SHA, kind): a file's symbols (kind = its language,
written by indexing) or its words (kind "words", written the first time ranking needs
them). Re-indexing after a commit parses only the blobs that changed, and two checkouts
that share a blob share its entry. Entries live in one SQLite file per extractor version,
`v<version>/blobs<format>.sqlite3`, each the marshal of plain tuples: an index writes the
entries of all the files it parsed in one transaction (a file per entry cost a cold index
of Django 0.1-1.3 s of file creation on ext4, more than all the rest but the parsing). A
damaged entry reads as a miss, and a damaged database file is moved aside and started
again. Beside it, one snapshot per indexed tree (see snapshot.py). With `max_bytes`, the
cache stays under that size, least recently used first (cache_limits.py).
"""

from __future__ import annotations

import logging
import marshal
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from app.codemap import cache_limits, snapshot
from app.codemap.extract import EXTRACTOR_VERSION
from app.codemap.snapshot import TreeEntry, TreeSnapshot
from app.codemap.symbols import FileSymbols, FileWords, decode_symbols, encode_symbols

DEFAULT_CACHE_DIR = Path("~/.cache/agentops/codemap")
# The layout of the database and of its entries; another layout is another file.
BLOB_FORMAT = 1

log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (blob SHA, kind)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entry (blob TEXT NOT NULL, kind TEXT NOT NULL, "
    "data BLOB NOT NULL, PRIMARY KEY (blob, kind))",
    # when a blob's entries were last read or written (seconds), for eviction
    "CREATE TABLE IF NOT EXISTS used (blob TEXT PRIMARY KEY, at INTEGER NOT NULL)",
)
_BUSY_SECONDS = 30.0  # another process writing the same database


class BlobCache:
    """Extraction results on disk under `directory/v<version>/`."""

    def __init__(
        self, directory: Path, version: str = EXTRACTOR_VERSION, max_bytes: int | None = None
    ) -> None:
        self.directory = directory.expanduser()
        self.root = str(self.directory / f"v{version}")
        self.max_bytes = max_bytes
        self.database = f"{self.root}/blobs{BLOB_FORMAT}.sqlite3"
        # One writer thread: it owns the writing connection, and batches land in order.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codemap-cache")
        self._written: list[tuple[dict[_Key, bytes], Future[None]]] = []  # batches in flight
        self._pending: dict[str, Future[None]] = {}  # snapshot files being written
        self._held: dict[_Key, bytes] = {}  # put inside deferred_writes, not yet handed on
        self._read: dict[_Key, bytes] = {}  # read from the database inside deferred_writes
        self._deferring = 0
        self._used: set[str] = set()  # blobs read or written since the last batch
        self.evicted = cache_limits.Removed()
        self._stored = os.path.exists(self.database)  # else every lookup is a miss
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None  # the writer thread's

    @contextmanager
    def deferred_writes(self) -> Iterator[None]:
        """Hold the entries put inside this block in memory and write them in one
        transaction when it ends (in the writer thread; `flush` waits for it)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if not self._deferring:
                self._read = {}
                if self._held or self._used:
                    batch, self._held = self._held, {}
                    self._submit(batch)

    def flush(self) -> None:
        """Wait until every entry put so far is on disk; raise the first write error."""
        written, self._written = self._written, []
        pending, self._pending = self._pending, {}
        failed: BaseException | None = None
        for future in [f for _, f in written] + list(pending.values()):
            failed = failed or future.exception()
        if failed is not None:
            raise failed

    def close(self) -> None:
        """Flush, then close the database (the last connection folds its log into it)."""
        try:
            if self._used:
                self._submit({})
            self.flush()
        finally:
            self._writer.shutdown()
            self._close_reader()
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def get_symbols(self, blob_sha: str, language: str) -> FileSymbols | None:
        data = self._get(blob_sha, language)
        if data is None:
            return None
        try:
            symbols = decode_symbols(data)
        except ValueError:
            return None
        return symbols if symbols.language == language else None

    def put_symbols(self, blob_sha: str, language: str, symbols: FileSymbols) -> None:
        self._put((blob_sha, language), encode_symbols(symbols))

    def encoded_symbols(self, blob_sha: str, symbols: FileSymbols) -> bytes:
        """encode_symbols(symbols), from the entry this process put or read if it can."""
        key = (blob_sha, symbols.language)
        found = self._held.get(key) or self._read.get(key) or self._in_flight(key)
        return found if found is not None else encode_symbols(symbols)

    def get_words(self, blob_sha: str) -> FileWords | None:
        data = self._get(blob_sha, "words")
        try:
            # Our own cache directory; marshal builds data only, it runs no code.
            identifiers = marshal.loads(data) if data is not None else None  # noqa: S302
        except (EOFError, TypeError, ValueError):
            return None
        return FileWords(identifiers) if isinstance(identifiers, dict) else None

    def put_words(self, blob_sha: str, words: FileWords) -> None:
        self._put((blob_sha, "words"), marshal.dumps(words.identifiers))

    def _put(self, key: _Key, value: bytes) -> None:
        self._held[key] = value
        if not self._deferring:
            batch, self._held = self._held, {}
            self._submit(batch)

    def _in_flight(self, key: _Key) -> bytes | None:
        for batch, _ in self._written:
            found = batch.get(key)
            if found is not None:
                return found
        return None

    def _get(self, blob_sha: str, kind: str) -> bytes | None:
        """The entry put in this process or stored in the database, or None."""
        key = (blob_sha, kind)
        found = self._held.get(key) or self._in_flight(key)
        if found is not None or not self._stored:
            return found
        try:
            with self._reader_lock:
                if self._reader is None:
                    self._reader = sqlite3.connect(
                        self.database, timeout=_BUSY_SECONDS, check_same_thread=False
                    )
                # all rows (at most one): a statement left unfinished would hold a read
                # transaction open, and the log could not be emptied after an eviction
                rows = self._reader.execute(
                    "SELECT data FROM entry WHERE blob = ? AND kind = ?", key
                ).fetchall()
                row = rows[0] if rows else None
        except sqlite3.Error:
            # Damaged or unreadable: misses until the writer has set it aside.
            self._close_reader()
            self._stored = False
            return None
        if row is None or not isinstance(row[0], bytes):
            return None
        self._used.add(blob_sha)
        if self._deferring:
            self._read[key] = row[0]
        return row[0]

    def _close_reader(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _submit(self, batch: dict[_Key, bytes]) -> None:
        used, self._used = self._used | {sha for sha, _kind in batch}, set()
        future = self._writer.submit(self._store, batch, used)
        future.add_done_callback(_log_failure)
        self._written = [(b, f) for b, f in self._written if not f.done()]
        self._written.append((batch, future))

    def _store(self, batch: dict[_Key, bytes], used: set[str]) -> None:
        """One transaction of entries, then eviction if over the cap; runs in the writer
        thread."""
        rows = [(sha, kind, data) for (sha, kind), data in batch.items()]
        for attempt in (1, 2):
            try:
                if self._connection is None:
                    os.makedirs(self.root, exist_ok=True)
                    self._connection = _connect(self.database)
                with self._connection:
                    self._connection.executemany(
                        "INSERT OR REPLACE INTO entry VALUES (?, ?, ?)", rows
                    )
                    cache_limits.touch_used(self._connection, used)
                break
            except sqlite3.DatabaseError as exc:
                code = _primary_code(exc)
                if attempt == 1 and code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                    self._set_aside_damaged()
                    continue
                denied = code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)
                error = PermissionError if denied else OSError
                raise error(f"cannot write {self.database}: {exc}") from exc
        self._stored = True
        if self.max_bytes is not None and self._connection is not None:
            removed = cache_limits.enforce_cap(
                self._connection, self.root, self.database, self.max_bytes
            )
            self.evicted.files += removed.files
            self.evicted.entries += removed.entries
            self.evicted.entry_bytes += removed.entry_bytes

    def prune(self) -> cache_limits.Removed:
        """Remove the snapshots of folders that are gone, other versions' caches, and the
        least recently used entries beyond the cap; then give the free space back."""
        self.flush()
        removed = cache_limits.prune_other_versions(self.directory, self.root, self.database)
        pruned = cache_limits.prune_snapshots(self.root)
        removed.files += pruned.files
        if os.path.exists(self.database):
            self._submit({})
            self.flush()
            assert self._connection is not None  # opened by the store just made
            removed.files += self.evicted.files
            removed.entries, removed.entry_bytes = self.evicted.entries, self.evicted.entry_bytes
            self._connection.execute("VACUUM")
            cache_limits.shrink(self._connection)
        return removed

    def _set_aside_damaged(self) -> None:
        log.warning("codemap: %s is damaged; starting a new one", self.database)
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._close_reader()
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.replace(self.database + suffix, f"{self.database}.damaged{suffix}")

    def load_tree(self, root: Path) -> TreeSnapshot:
        """What the last index of this tree saw, or an empty snapshot."""
        key = snapshot.tree_key(root)
        base = self._read_file(f"{self.root}/{key}.tree.marshal")
        if base is None:
            return snapshot.EMPTY
        with suppress(OSError):  # last used, for eviction
            os.utime(f"{self.root}/{key}.tree.marshal")
        delta = self._read_file(f"{self.root}/{key}.tree-delta.marshal")
        return snapshot.snapshot_from(
            snapshot.decode(base), None if delta is None else snapshot.decode(delta)
        )

    def _read_file(self, path: str) -> bytes | None:
        writing = self._pending.get(path)
        try:
            if writing is not None:
                writing.result()
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def save_tree(
        self, root: Path, files: dict[str, TreeEntry], previous: TreeSnapshot | None = None
    ) -> None:
        """Record what this index of root saw, in the background (see snapshot.encode)."""

        def encoded(entry: TreeEntry) -> bytes:
            return self.encoded_symbols(entry.blob_sha, entry.symbols)

        kind, data = snapshot.encode(files, previous or snapshot.EMPTY, encoded)
        key = snapshot.tree_key(root)
        path = f"{self.root}/{key}.{kind}.marshal"
        if not os.path.exists(f"{self.root}/{key}.root"):  # whose it is, for pruning
            folder = str(root.resolve()).encode()
            self._writer.submit(_write_atomically, f"{self.root}/{key}.root", lambda: folder)
        future = self._writer.submit(_write_atomically, path, data)
        future.add_done_callback(_log_failure)
        self._pending[path] = future


def _connect(database: str) -> sqlite3.Connection:
    connection = sqlite3.connect(database, timeout=_BUSY_SECONDS, check_same_thread=False)
    try:
        # Two processes setting up a new database at once: SQLite answers "locked" at
        # once here instead of waiting out the timeout.
        for attempt in range(_SETUP_ATTEMPTS):
            try:
                # WAL: readers in other processes go on while one writes. A commit is not
                # synced: after a crash an entry may be missing (a miss), never wrong.
                # set before the first table, or it does nothing: evictions shrink the file
                connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    connection.execute(statement)
                break
            except sqlite3.OperationalError as exc:
                busy = _primary_code(exc) == sqlite3.SQLITE_BUSY
                if not busy or attempt == _SETUP_ATTEMPTS - 1:
                    raise
                time.sleep(0.05)
        connection.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        connection.close()
        raise
    return connection


_SETUP_ATTEMPTS = 100


def _primary_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF  # without the extended part


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("codemap: cannot write a cache entry: %s", exc)


def _write_atomically(path: str, produce: Callable[[], bytes]) -> None:
    data = memoryview(produce())
    directory = path[: path.rfind("/")]
    os.makedirs(directory, exist_ok=True)
    tmp = f"{directory}/.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
