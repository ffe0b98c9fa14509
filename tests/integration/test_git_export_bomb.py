"""Attack: a hostile repository's commit whose tree lists far more than it weighs, written
by the worker as the original code's copy (`workspace.base_copy`, the tests' run before
the change). A few kB of git objects list 8^6 names (16^6 = 16.7 M at no greater cost),
or one blob listed hundreds of times claims gigabytes; the whole `git ls-tree` listing
was read into memory, then the list of every blob. The listing is now read as git writes
it and the export refused past the limit, before anything is written; a large blob is
written in chunks, never held whole."""

from __future__ import annotations

import hashlib
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from app.config import Settings
from app.git_export import TreeBeyondLimits
from app.workflow import workspace
from app.workflow.failures import public_failure
from tests.integration.test_mcp_tree_bomb import tree_bomb

PEAK = 16 * 1024 * 1024  # what an export may hold in Python at once, whatever the tree


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def _commit(repo: Path, tree: str) -> str:
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a"}
    env |= {"GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["git", "-C", str(repo), "commit-tree", tree, "-m", "x"],
        capture_output=True,
        check=True,
        env=env,
    )
    return done.stdout.decode().strip()


def _nested(repo: Path, blob: str, fan_out: int, levels: int) -> str:
    """A tree of `fan_out`^`levels` entries, each `blob`."""
    listing = "".join(f"100644 blob {blob}\tf{i}.py\n" for i in range(fan_out))
    tree = _git(repo, "mktree", stdin=listing.encode())
    for _ in range(levels - 1):
        listing = "".join(f"040000 tree {tree}\td{i}\n" for i in range(fan_out))
        tree = _git(repo, "mktree", stdin=listing.encode())
    return tree


async def test_a_tree_of_more_entries_than_the_limit_is_refused_unread_and_unwritten(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "hostile.git"
    sha = tree_bomb(repo)  # 8^6 = 262,144 entries from a few kB of objects
    folder = tmp_path / "run-1"
    folder.mkdir()
    tracemalloc.start()
    try:
        with pytest.raises(TreeBeyondLimits, match="more than 100000 entries") as refused:
            await workspace.base_copy(
                folder, repo, sha, Settings(tree_max_entries=100_000).tree_limits
            )
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK, f"{peak / 1e6:.0f} MB held for a refused tree"
    assert sorted(p.name for p in folder.iterdir()) == []  # nothing written, no partial
    told = public_failure(refused.value).text  # what the author reads
    assert "lists more files, or more bytes of files, than AgentOps writes" in told


async def test_a_tree_claiming_more_bytes_than_the_limit_is_refused(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "hostile.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
    blob = _git(repo, "hash-object", "-w", "--stdin", stdin=b"#" * 1024 * 1024)
    sha = _commit(repo, _nested(repo, blob, 8, 3))  # 512 files of 1 MB: 1 MB of objects
    folder = tmp_path / "run-1"
    folder.mkdir()
    with pytest.raises(TreeBeyondLimits, match="more than 64 MB"):
        await workspace.base_copy(folder, repo, sha, Settings(tree_max_mb=64).tree_limits)
    assert list(folder.iterdir()) == []


async def test_a_large_file_is_written_in_chunks_and_a_tree_within_the_limits_whole(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "big.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
    large = tmp_path / "large.bin"
    with large.open("wb") as out:
        for n in range(48):
            out.write(bytes([n]) * 1024 * 1024)
    big = _git(repo, "hash-object", "-w", str(large))
    small = _git(repo, "hash-object", "-w", "--stdin", stdin=b"print('hi')\n")
    link = _git(repo, "hash-object", "-w", "--stdin", stdin=b"../../etc/passwd")
    sub = _git(repo, "mktree", stdin=f"100755 blob {small}\trun.py\n".encode())
    listing = (
        f"100644 blob {big}\tdata.bin\n100644 blob {small}\tmain py.py\n"
        f"120000 blob {link}\tescape\n040000 tree {sub}\tbin\n"
    )
    sha = _commit(repo, _git(repo, "mktree", stdin=listing.encode()))
    folder = tmp_path / "run-1"
    folder.mkdir()
    tracemalloc.start()
    try:
        base = await workspace.base_copy(folder, repo, sha, Settings().tree_limits)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK, f"{peak / 1e6:.0f} MB held to write a 48 MB file"
    written = hashlib.sha256((base / "data.bin").read_bytes()).hexdigest()
    assert written == hashlib.sha256(large.read_bytes()).hexdigest()
    assert (base / "main py.py").read_text() == "print('hi')\n"
    assert (base / "bin" / "run.py").stat().st_mode & 0o111
    assert (base / "escape").is_symlink()
    assert str((base / "escape").readlink()) == "../../etc/passwd"  # a link, never followed
