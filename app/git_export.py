"""A commit's files written to a directory by the worker itself, not by git's checkout.

`git worktree add` or `git checkout` apply the repository's attributes (filters, eol
conversion) and read the repository's config; a tree exported here is made of the raw
blobs: `git ls-tree` lists them, one `git cat-file --batch` reads them, and Python
writes them. No filter, hook or other configured program can run, links are written as
links (mode 120000) and never followed, submodules (gitlinks) are left out, and a path
that would leave the directory or enter a `.git` is refused.

The tree is untrusted: a few kB of git objects can list millions of names (a tree holding
8 copies of a tree holding 8 copies of …) or gigabytes of files (one blob listed many
times). The listing is read as git writes it, never held whole: what to write goes to
temporary files, and a tree beyond its `TreeLimits` (entries, bytes) is refused
(`TreeBeyondLimits`) as soon as the listing passes the limit, before anything is written.
Blobs are written in chunks as `cat-file` gives them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from app.git import GitError, repository_env

LISTING_SECONDS = 120.0
_CHUNK = 1 << 16
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINK_BYTES = 4096  # PATH_MAX: a link's target


class TreeBeyondLimits(GitError):
    """The commit's tree is beyond a limit; the message says which."""


@dataclass(frozen=True)
class TreeLimits:
    """The most a commit's exported tree may list (settings `TREE_MAX_ENTRIES`, `_MB`)."""

    entries: int = 1_000_000  # files, links and submodules
    bytes: int = 4096 * 1_000_000  # of its files, as listed

    @property
    def pack_bytes(self) -> int:
        """The most a fetch of one commit within these limits can write: each file once,
        compressed or stored (zlib adds a few bytes to incompressible data), its trees (a
        tree entry is a mode, a name and a 20-byte id: 100 bytes is generous) and a
        commit. A larger pack is refused while it arrives, not once it is on disk."""
        return self.bytes + 100 * self.entries + 1_000_000


DEFAULT_TREE_LIMITS = TreeLimits()


@dataclass(frozen=True, slots=True)
class TreeEntry:
    mode: str
    kind: str  # blob, tree, commit (a submodule)
    oid: str
    size: int | None  # None for what is not a blob
    path: str


def iter_ls_tree_long(chunks: Iterable[bytes]) -> Iterator[TreeEntry]:
    """The entries of `git ls-tree -r -l -z` output read in chunks, one at a time: a
    listing is never held whole (a tree of millions of names costs only what is read)."""
    for record in _nul_records(chunks):
        entry = _entry(record.decode("utf-8", "replace"))
        if entry is not None:
            yield entry


def _nul_records(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The NUL-separated records of a stream read in chunks (the last may lack its NUL)."""
    pending = b""
    for chunk in chunks:
        *records, pending = (pending + chunk).split(b"\0")
        yield from records
    if pending:
        yield pending


def _entry(record: str) -> TreeEntry | None:
    meta, _, path = record.partition("\t")
    fields = meta.split()
    if not record or len(fields) != 4:
        return None
    mode, kind, oid, size = fields
    return TreeEntry(mode, kind, oid, int(size) if size.isdigit() else None, path)


def iter_listed_tree(
    repo_dir: Path, commit: str, env: dict[str, str], time_limit: float = LISTING_SECONDS
) -> Generator[TreeEntry]:
    """The entries of `commit`'s tree, read from `git ls-tree -r -l -z` as it writes them
    (blocking: call it in a thread; close it to stop git early). `GitError` when git
    fails or outlasts `time_limit`."""
    process = subprocess.Popen(
        ["git", "ls-tree", "-r", "-l", "-z", "--full-tree", commit],
        cwd=repo_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stdout = process.stdout
    assert stdout is not None
    timer = threading.Timer(time_limit, process.kill)
    timer.start()
    try:
        yield from iter_ls_tree_long(iter(lambda: os.read(stdout.fileno(), _CHUNK), b""))
        if process.wait() != 0:
            raise GitError(f"git ls-tree of {commit} failed (exit {process.returncode})")
    finally:
        timer.cancel()
        process.kill()
        process.wait()
        stdout.close()


def safe_parts(path: str) -> list[str]:
    """The path's parts, or GitError when it could leave the directory or enter `.git`."""
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
        raise GitError(f"refusing to export a path that leaves the tree: {path[:200]!r}")
    return parts


async def export_tree(
    repo_dir: Path, commit: str, dest: Path, limits: TreeLimits = DEFAULT_TREE_LIMITS
) -> None:
    """Write the files of `commit` of the repository at `repo_dir` into the new `dest`;
    `TreeBeyondLimits` (nothing written) past `limits`."""
    env = await repository_env(repo_dir)
    await asyncio.to_thread(
        _export_listed, repo_dir, commit, dest, env, limits.entries, limits.bytes
    )


def _export_listed(
    repo_dir: Path, commit: str, dest: Path, env: dict[str, str], max_entries: int, max_bytes: int
) -> None:
    """The listing streamed into two temporary files (the object ids for `cat-file`, and
    each blob's mode and path), then the blobs written from them: memory stays bounded
    by a chunk whatever the tree holds."""
    with tempfile.TemporaryFile() as wanted, tempfile.TemporaryFile() as records:
        listed = iter_listed_tree(repo_dir, commit, env)
        try:
            count = _list_blobs(listed, wanted, records, max_entries, max_bytes)
        finally:
            listed.close()  # git stopped at a refusal: the rest is never read
        wanted.seek(0)
        records.seek(0)
        _export(repo_dir, wanted, count, _records(records), dest, env)


def _list_blobs(
    entries: Iterator[TreeEntry],
    wanted: IO[bytes],
    records: IO[bytes],
    max_entries: int,
    max_bytes: int,
) -> int:
    """Write each blob's `oid\n` to `wanted` and `mode path\0` to `records`; how many."""
    blobs = 0
    for entry in _within_limits(entries, max_entries, max_bytes):
        _note_blob(wanted, records, entry.mode, entry.oid, entry.path)
        blobs += 1
    return blobs


def _within_limits(
    entries: Iterator[TreeEntry], max_entries: int, max_bytes: int
) -> Iterator[TreeEntry]:
    """The blobs of `entries`; `TreeBeyondLimits` as soon as the listing passes a limit."""
    listed_bytes = 0
    for seen, entry in enumerate(entries, 1):
        if seen > max_entries:
            raise TreeBeyondLimits(f"the commit's tree has more than {max_entries} entries")
        if entry.kind != "blob":
            continue  # a submodule
        listed_bytes += entry.size or 0
        if listed_bytes > max_bytes:
            raise TreeBeyondLimits(f"the commit's files hold more than {max_bytes // 1_000_000} MB")
        yield entry


async def check_tree(repo_dir: Path, commit: str, limits: TreeLimits = DEFAULT_TREE_LIMITS) -> None:
    """`TreeBeyondLimits` when `commit`'s tree passes `limits` (read as git lists it, and
    stopped there): what a checkout of it would write, checked before it writes."""
    env = await repository_env(repo_dir)

    def check() -> None:
        listed = iter_listed_tree(repo_dir, commit, env)
        try:
            for _blob in _within_limits(listed, limits.entries, limits.bytes):
                pass
        finally:
            listed.close()

    await asyncio.to_thread(check)


def _note_blob(wanted: IO[bytes], records: IO[bytes], mode: str, oid: str, path: str) -> None:
    wanted.write(f"{oid}\n".encode())
    records.write(f"{mode} {oid} {path}\0".encode())


def _records(records: IO[bytes]) -> Iterator[tuple[str, str, str]]:
    """(mode, object id, path) of each blob `_note_blob` wrote, read in chunks."""
    for record in _nul_records(iter(lambda: records.read(_CHUNK), b"")):
        mode, oid, path = record.decode("utf-8", "replace").split(" ", 2)
        yield mode, oid, path


async def export_blobs(repo_dir: Path, blobs: list[tuple[str, str, str]], dest: Path) -> None:
    """Write these (mode, object id, path) blobs of the repository at `repo_dir` into the
    new `dest` (a chosen part of a tree: see app/mcp/tree_select.py)."""
    env = await repository_env(repo_dir)
    await asyncio.to_thread(_export_chosen, repo_dir, blobs, dest, env)


def _export_chosen(
    repo_dir: Path, blobs: list[tuple[str, str, str]], dest: Path, env: dict[str, str]
) -> None:
    with tempfile.TemporaryFile() as wanted, tempfile.TemporaryFile() as records:
        for mode, oid, path in blobs:
            _note_blob(wanted, records, mode, oid, path)
        wanted.seek(0)
        records.seek(0)
        _export(repo_dir, wanted, len(blobs), _records(records), dest, env)


def _export(
    repo_dir: Path,
    wanted: IO[bytes],
    count: int,
    blobs: Iterator[tuple[str, str, str]],
    dest: Path,
    env: dict[str, str],
) -> None:
    """One `git cat-file --batch` reads the `count` blobs whose ids `wanted` lists, each
    written in chunks as it arrives."""
    dest.mkdir(parents=True)
    process = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=repo_dir,
        env=env,
        stdin=wanted,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stdout = process.stdout
    assert stdout is not None
    made: set[str] = set()
    try:
        for written, (mode, oid, path) in enumerate(blobs, 1):
            if written > count:
                break
            header = stdout.readline(200).decode().split()
            if len(header) != 3 or header[0] != oid or header[1] != "blob":
                raise GitError(f"git cat-file gave no blob for {path[:200]!r}")
            _write_entry(dest, path, mode, stdout, int(header[2]), made)
            if stdout.read(1) != b"\n":
                raise GitError(f"git cat-file ended within {path[:200]!r}")
    finally:
        process.kill()
        process.wait()
        stdout.close()


def _write_entry(
    dest: Path, path: str, mode: str, source: IO[bytes], size: int, made: set[str]
) -> None:
    """Write one blob of `size` bytes read from `source`; `made` holds the directories
    this export created so far."""
    *parents, name = safe_parts(path)
    for depth in range(1, len(parents) + 1):
        folder = "/".join(parents[:depth])
        if folder not in made:
            try:
                os.mkdir(dest / folder, 0o755)  # never through a link: it must be new
            except FileExistsError:
                raise GitError(f"refusing to export {path[:200]!r}: a file on its way") from None
            made.add(folder)
    target = os.path.join(dest, *parents, name)
    if mode == "120000":
        if size > _MAX_LINK_BYTES:
            raise GitError(f"refusing to export {path[:200]!r}: a link's target over 4 kB")
        os.symlink(os.fsdecode(_read_exactly(source, size, path)), target)
        return
    descriptor = os.open(target, _FILE_FLAGS, 0o755 if mode == "100755" else 0o644)
    try:
        left = size
        while left:
            data = _read_exactly(source, min(left, _CHUNK), path)
            left -= len(data)
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
    finally:
        os.close(descriptor)


def _read_exactly(source: IO[bytes], size: int, path: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise GitError(f"git cat-file ended within {path[:200]!r}")
    return data
