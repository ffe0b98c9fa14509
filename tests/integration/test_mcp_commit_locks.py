"""Attack: an MCP client asks the code map for many distinct commits (real ones, made-up
ones, calls it cancels). Each commit has its lock while its tree is fetched, so that
calls for the same commit share one fetch; a lock per commit ever asked for was kept for
ever, and the web process grew with every call. Through `CommitTrees.open`, fetching
from a real git repository and writing the trees as the web process does."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app import git
from app.config import Settings
from app.forges.base import GitRemote
from app.mcp.commit_trees import CommitTrees
from app.mcp.errors import ToolRefusal
from app.store.readers import RepositoryCheckout
from app.store.runs import Run
from tests.integration.test_mcp_tree_bomb import run

COMMITS = 40


class _Forge:
    async def git_remote(self, repo: str) -> GitRemote:
        return GitRemote("https://forge.invalid/acme/bomb.git", "Authorization: x")


class _Registry:
    async def for_run(self, run: Run) -> _Forge:
        return _Forge()


def _commits(repo: Path, count: int) -> list[str]:
    """`count` commits of one Python file each, in a new repository at `repo`."""
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a"}
    env |= {"GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    shas = []
    for n in range(count):
        (repo / "mod.py").write_text(f"def f{n}() -> int:\n    return {n}\n")
        subprocess.run(["git", "-C", str(repo), "add", "mod.py"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", f"c{n}"], check=True, env=env)
        done = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, check=True
        )
        shas.append(done.stdout.decode().strip())
    return shas


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "source"
    return repo, _commits(repo, COMMITS)


def _trees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Path, fetched: list[str]
) -> CommitTrees:
    """The web process's trees, whose forge serves `source` (each fetch noted)."""

    async def fetch_from_source(bare: Path, remote: GitRemote, wanted: str, **_: Any) -> None:
        fetched.append(wanted)
        await asyncio.sleep(0.05)  # a forge's answer takes a while: calls pile up meanwhile
        done = await asyncio.to_thread(
            subprocess.run,
            ["git", "-C", str(bare), "fetch", "-q", str(source), wanted],
            capture_output=True,
        )
        if done.returncode != 0:
            raise git.GitError(f"no commit {wanted}")

    monkeypatch.setattr(git, "fetch_commit", fetch_from_source)
    trees = CommitTrees(Settings(workdir=tmp_path / "work"), None, _Registry())  # type: ignore[arg-type]

    async def known(name: str, forge: str | None) -> RepositoryCheckout:
        return RepositoryCheckout(run(), None)  # the repository has a run: asked by SHA

    async def checked_out(self_known: RepositoryCheckout, sha: str) -> bool:
        return True  # a commit a run checked out there (no branch tip needed)

    monkeypatch.setattr(trees, "_checkout", known)
    monkeypatch.setattr(trees, "_checked_out", checked_out)
    return trees


async def test_many_distinct_commits_leave_no_lock_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: tuple[Path, list[str]]
) -> None:
    repo, shas = source
    fetched: list[str] = []
    trees = _trees(tmp_path, monkeypatch, repo, fetched)
    made_up = [f"{n:040x}" for n in range(COMMITS)]  # no such commit: each call refused
    answers = await asyncio.gather(
        *(trees.open("acme/bomb", "github", sha) for sha in [*shas, *made_up]),
        return_exceptions=True,
    )
    opened = [a for a in answers[:COMMITS] if not isinstance(a, BaseException)]
    assert len(opened) == COMMITS, answers[:COMMITS]
    assert sorted(fetched[:COMMITS]) == sorted(shas)  # each written (the older evicted since)
    assert all(isinstance(a, ToolRefusal) for a in answers[COMMITS:])
    assert len(trees._locks) == 0

    # calls cancelled while waiting on a fetch under way leave nothing either
    sha = shas[0]
    for stale in trees.folder.iterdir():  # evicted or not: fetched again
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    calls = [asyncio.create_task(trees.open("acme/bomb", "github", sha)) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert len(trees._locks) == 1
    for call in calls[1:]:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    assert len(trees._locks) == 0


async def test_calls_for_one_commit_share_one_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: tuple[Path, list[str]]
) -> None:
    repo, shas = source
    fetched: list[str] = []
    trees = _trees(tmp_path, monkeypatch, repo, fetched)
    sha = shas[-1]
    maps = await asyncio.gather(*(trees.open("acme/bomb", "github", sha) for _ in range(8)))
    assert fetched == [sha]
    assert {m.root for m in maps} == {maps[0].root}
    assert f"return {COMMITS - 1}" in (maps[0].root / "mod.py").read_text()
    assert len(trees._locks) == 0
