"""Attack: a commit whose tree is a bomb of names (a few kB of git objects, a tree holding
8 copies of a tree holding 8 copies of … : 8^6 files here, 16^6 = 16.7 M at no greater
cost) asked for through `/mcp`'s code map. The web process must refuse it after reading
MAX_ENTRIES entries of the listing, never holding the whole listing in memory (at 16^6,
about 1.5 GB of text and several GB of Python objects: the web process that answers
webhooks killed by the OOM killer)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app import git
from app.config import Settings
from app.forges.base import GitRemote
from app.mcp import commit_trees
from app.mcp.commit_trees import CommitTrees
from app.mcp.errors import ToolRefusal
from app.store.readers import RepositoryCheckout
from app.store.runs import Run

LEVELS = 6
FAN_OUT = 8  # 8^6 = 262,144 entries: over MAX_ENTRIES (200,000)


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def tree_bomb(repo: Path) -> str:
    subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
    blob = _git(repo, "hash-object", "-w", "--stdin", stdin=b"x")
    listing = "".join(f"100644 blob {blob}\tf{i}.bin\n" for i in range(FAN_OUT))
    tree = _git(repo, "mktree", stdin=listing.encode())
    for _ in range(LEVELS - 1):
        listing = "".join(f"040000 tree {tree}\td{i}\n" for i in range(FAN_OUT))
        tree = _git(repo, "mktree", stdin=listing.encode())
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a"}
    env |= {"GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["git", "-C", str(repo), "commit-tree", tree, "-m", "bomb"],
        capture_output=True,
        check=True,
        env=env,
    )
    commit = done.stdout.decode().strip()
    _git(repo, "update-ref", "refs/heads/bomb", commit)
    return commit


def run() -> Run:
    values: dict[str, Any] = {
        "id": 1,
        "tenant_id": 1,
        "forge": "github",
        "repo": "acme/bomb",
        "target_kind": "issue",
        "target_number": 3,
        "command": "implement",
        "args": "",
        "requested_by": "dana",
        "trigger": "comment",
        "trigger_key": "k",
        "comment_id": 77,
        "context": {},
        "status": "succeeded",
        "cancel_requested": False,
        "retry_of": None,
        "attempts": 1,
        "check_ref": None,
        "result": {},
        "error": None,
        "created_at": datetime.now(UTC),
        "started_at": None,
        "finished_at": None,
    }
    return Run(**values)


class _Forge:
    async def git_remote(self, repo: str) -> GitRemote:
        return GitRemote("https://forge.invalid/acme/bomb.git", "Authorization: x")


class _Registry:
    async def for_run(self, run: Run) -> _Forge:
        return _Forge()


async def test_a_tree_bomb_is_refused_without_holding_its_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source.git"
    sha = tree_bomb(source)

    async def fetch_from_source(
        bare: Path, remote: GitRemote, wanted: str, **_: Any
    ) -> None:  # the forge's answer: the commit's objects (a few kB)
        await asyncio.to_thread(
            subprocess.run, ["git", "-C", str(bare), "fetch", "-q", str(source), wanted], check=True
        )

    monkeypatch.setattr(git, "fetch_commit", fetch_from_source)
    settings = Settings(workdir=tmp_path / "work")
    trees = CommitTrees(settings, None, _Registry())  # type: ignore[arg-type]
    key = f"1-github-x-{sha}"
    tracemalloc.start()
    try:
        with pytest.raises(ToolRefusal, match="more than 200000 files"):
            await trees._write(RepositoryCheckout(run(), sha), sha, key, "github:acme/bomb")
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak / 1e6:.0f} MB held for a refused listing"
    assert not (trees.folder / key).exists()


async def test_a_fetch_past_the_size_limit_is_stopped_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a commit of gigabytes (a large repository, or any commit of its fork
    network asked for by SHA) filled the web process's disk before its size was looked
    at, after the fetch. It is measured while git receives it and stopped past the limit."""
    limit = 4 * 1024 * 1024
    received = 0

    async def endless_fetch(bare: Path, remote: GitRemote, wanted: str, **_: Any) -> None:
        nonlocal received
        pack = bare / "objects" / "pack" / "tmp_pack_x"
        with pack.open("ab") as out:
            for _chunk in range(40):  # 40 MB over two seconds, as a forge would send it
                out.write(b"\0" * 1024 * 1024)
                out.flush()
                received += 1024 * 1024
                await asyncio.sleep(0.05)

    monkeypatch.setattr(git, "fetch_commit", endless_fetch)
    monkeypatch.setattr(commit_trees, "MAX_FETCHED_BYTES", limit)
    monkeypatch.setattr(commit_trees, "WATCH_SECONDS", 0.1, raising=False)
    trees = CommitTrees(Settings(workdir=tmp_path / "work"), None, _Registry())  # type: ignore[arg-type]
    sha = "a" * 40
    with pytest.raises(ToolRefusal, match="over the size limit"):
        await trees._write(RepositoryCheckout(run(), sha), sha, "k", "github:acme/bomb")
    assert received <= limit + 8 * 1024 * 1024, f"{received >> 20} MB written"
    assert not any((tmp_path / "work").rglob("tmp_pack_x"))


async def test_trees_are_fetched_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: each fetch may hold MAX_FETCHED_BYTES on disk; twenty calls at once for
    twenty commits held twenty times that. The web process writes a few trees at a time."""
    running = most = 0

    async def slow_fetch(bare: Path, remote: GitRemote, wanted: str, **_: Any) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.2)
        running -= 1
        raise git.GitError("no such commit")

    monkeypatch.setattr(git, "fetch_commit", slow_fetch)
    trees = CommitTrees(Settings(workdir=tmp_path / "work"), None, _Registry())  # type: ignore[arg-type]
    shas = [f"{n:040x}" for n in range(12)]
    answers = await asyncio.gather(
        *(trees._write(RepositoryCheckout(run(), s), s, s, "github:acme/x") for s in shas),
        return_exceptions=True,
    )
    assert all(isinstance(a, ToolRefusal) for a in answers)
    assert most <= 2  # commit_trees.MAX_WRITES_AT_ONCE


def test_eviction_passes_over_a_tree_another_process_removed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two web processes share the folder: a tree listed by one and removed by the other
    before it is looked at made the first's tool call fail (FileNotFoundError)."""
    trees = CommitTrees(Settings(workdir=tmp_path / "work"), None, _Registry())  # type: ignore[arg-type]
    for name in ("kept", "old", "gone"):
        (trees.folder / name / "tree").mkdir(parents=True)
    listed = list(os.scandir(trees.folder))
    shutil.rmtree(trees.folder / "gone")  # by the other process
    real = os.scandir

    def scandir(folder: Any) -> Any:  # the listing made before the other process's removal
        mine = isinstance(folder, str | os.PathLike) and Path(folder) == trees.folder
        return iter(listed) if mine else real(folder)

    monkeypatch.setattr(os, "scandir", scandir)
    trees.keep = 1
    trees._evict("kept")
    assert sorted(p.name for p in trees.folder.iterdir()) == ["kept"]
