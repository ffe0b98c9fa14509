"""A commit's files written to a directory by the worker itself, not by git's checkout.

`git worktree add` or `git checkout` apply the repository's attributes (filters, eol
conversion) and read the repository's config; a tree exported here is made of the raw
blobs: `git ls-tree` lists them, one `git cat-file --batch` reads them, and Python
writes them. No filter, hook or other configured program can run, links are written as
links (mode 120000) and never followed, submodules (gitlinks) are left out, and a path
that would leave the directory or enter a `.git` is refused.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

from app.git import GitError, repository_env, run_git

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def parse_ls_tree(listing: str) -> list[tuple[str, str, str]]:
    """(mode, object id, path) of each blob of `git ls-tree -r -z` output (pure)."""
    blobs = []
    for record in listing.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, kind, oid = meta.split()
        if kind == "blob":
            blobs.append((mode, oid, path))
    return blobs


def safe_parts(path: str) -> list[str]:
    """The path's parts, or GitError when it could leave the directory or enter `.git`."""
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
        raise GitError(f"refusing to export a path that leaves the tree: {path[:200]!r}")
    return parts


async def export_tree(repo_dir: Path, commit: str, dest: Path) -> None:
    """Write the files of `commit` of the repository at `repo_dir` into the new `dest`."""
    listing = await run_git(["ls-tree", "-r", "-z", "--full-tree", commit], cwd=repo_dir)
    await export_blobs(repo_dir, parse_ls_tree(listing), dest)


async def export_blobs(repo_dir: Path, blobs: list[tuple[str, str, str]], dest: Path) -> None:
    """Write these (mode, object id, path) blobs of the repository at `repo_dir` into the
    new `dest` (a chosen part of a tree: see app/mcp/tree_select.py)."""
    env = await repository_env(repo_dir)
    await asyncio.to_thread(_export, repo_dir, blobs, dest, env)


def _export(
    repo_dir: Path, blobs: list[tuple[str, str, str]], dest: Path, env: dict[str, str]
) -> None:
    """One `git cat-file --batch` reads every blob; each is written as it arrives."""
    dest.mkdir(parents=True)
    with tempfile.TemporaryFile() as wanted:
        wanted.write("".join(f"{oid}\n" for _, oid, _ in blobs).encode())
        wanted.seek(0)
        process = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=repo_dir,
            env=env,
            stdin=wanted,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    assert process.stdout is not None
    made: set[str] = set()
    try:
        for mode, oid, path in blobs:
            header = process.stdout.readline().decode().split()
            if len(header) != 3 or header[0] != oid or header[1] != "blob":
                raise GitError(f"git cat-file gave no blob for {path[:200]!r}")
            data = process.stdout.read(int(header[2]) + 1)
            _write_entry(dest, path, mode, data[:-1], made)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def _write_entry(dest: Path, path: str, mode: str, data: bytes, made: set[str]) -> None:
    """Write one blob; `made` holds the directories this export created so far."""
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
        os.symlink(os.fsdecode(data), target)
        return
    descriptor = os.open(target, _FILE_FLAGS, 0o755 if mode == "100755" else 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
    finally:
        os.close(descriptor)
