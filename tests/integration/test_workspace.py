"""A run's checkout rebuilt at its recorded commit, also after the branch moved on."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import git
from app.config import Settings
from app.forges.github.auth import GitHubApp
from app.git_export import TreeBeyondLimits
from app.workflow import workspace
from tests.integration.test_mcp_tree_bomb import tree_bomb
from tests.sim.github import GitHubSim
from tests.sim.serve import serve_app

REPO = "acme/moving"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[GitHubSim, str]]:
    sim = GitHubSim(tmp_path / "gh")
    sim.add_repo(REPO, {"a.py": "A = 1\n"})
    with serve_app(sim.app) as url:
        yield sim, url


async def test_checkout_at_the_recorded_commit_after_the_branch_moved(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    sim, url = github
    recorded = sim.branch_sha(REPO, "main")
    assert recorded is not None
    moved = sim.push_branch(REPO, "main", {"a.py": "A = 2\n"}, message="later")
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        root = await workspace.ensure_checkout(tmp_path / "run-1", remote, "main", recorded)
    finally:
        await app.aclose()
    assert moved != recorded
    assert await git.head_sha(root) == recorded
    assert (root / "a.py").read_text() == "A = 1\n"


async def test_diff_recorded_then_applied_to_a_fresh_checkout(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    sim, url = github
    sha = sim.branch_sha(REPO, "main")
    assert sha is not None
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        first = await workspace.ensure_checkout(tmp_path / "one", remote, "main", sha)
        (first / "a.py").write_text("A = 3\n")
        (first / "new.py").write_text("B = 1\n")
        diff = await workspace.working_diff(first, sha, ["a.py", "new.py"])
        second = await workspace.ensure_checkout(tmp_path / "two", remote, "main", sha)
        await workspace.apply_diff(second, diff)
    finally:
        await app.aclose()
    assert (second / "a.py").read_text() == "A = 3\n"
    assert (second / "new.py").read_text() == "B = 1\n"


async def test_a_tree_bomb_on_the_branch_is_refused_before_the_checkout_writes_it(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    """Attack: a branch whose commit lists 8^6 files from a few kB of objects. The run's
    checkout was written by the clone itself, every file of it, before any limit applied;
    now the clone writes no working tree until the listing is within the limits."""
    sim, url = github
    bomb = tree_bomb(sim.bare_path(REPO))  # on the branch `bomb`
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    folder = tmp_path / "run-1"
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        with pytest.raises(TreeBeyondLimits, match="more than 100000 entries"):
            await workspace.ensure_checkout(
                folder, remote, "bomb", bomb, Settings(tree_max_entries=100_000).tree_limits
            )
    finally:
        await app.aclose()
    written = [p for p in (folder / "repo").iterdir() if p.name != ".git"]
    assert written == []


def large_blob_branch(repo: Path, size: int, files: int = 1) -> str:
    """A branch `large` whose commit holds `files` files of `size` random (incompressible)
    bytes each: real objects, no listing trick, so the download is as large as the tree."""
    git_dir = ["git", f"--git-dir={repo}"]
    listing = b""
    for number in range(files):
        blob = (
            subprocess.run(
                [*git_dir, "hash-object", "-w", "--stdin"],
                input=os.urandom(size),
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        listing += f"100644 blob {blob}\tdata{number or ''}.bin\n".encode()
    tree = (
        subprocess.run([*git_dir, "mktree"], input=listing, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a"}
    env |= {"GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    commit = (
        subprocess.run(
            [*git_dir, "commit-tree", tree, "-m", "large"],
            capture_output=True,
            check=True,
            env=env,
        )
        .stdout.decode()
        .strip()
    )
    subprocess.run([*git_dir, "update-ref", "refs/heads/large", commit], check=True)
    return commit


async def test_a_commit_of_large_files_is_stopped_while_it_downloads(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    """Attack: a branch whose commit holds 60 MB of real (random) data, with the tree
    limited to 16 MB. The listing check comes after the clone, so the clone downloaded the
    whole commit first; now the pack is stopped by the kernel's file size limit as it
    passes what a commit within the limits could need (17 MB here), and nothing stays."""
    sim, url = github
    large = large_blob_branch(sim.bare_path(REPO), 60_000_000)
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    folder = tmp_path / "run-1"
    limits = Settings(tree_max_mb=16, tree_max_entries=1_000).tree_limits
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        with pytest.raises(TreeBeyondLimits, match="download was stopped at 17 MB"):
            await workspace.ensure_checkout(folder, remote, "large", large, limits)
    finally:
        await app.aclose()
    assert not (folder / "repo").exists()


async def test_a_commit_within_the_limits_is_fetched_whole_under_them(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    """The bound leaves room for any commit within the limits: 15 MB of incompressible
    data, the worst case for the pack's size, under a 16 MB limit."""
    sim, url = github
    large = large_blob_branch(sim.bare_path(REPO), 15_000_000)
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    limits = Settings(tree_max_mb=16, tree_max_entries=1_000).tree_limits
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        root = await workspace.ensure_checkout(tmp_path / "run-1", remote, "large", large, limits)
    finally:
        await app.aclose()
    assert (root / "data.bin").stat().st_size == 15_000_000


async def test_a_fetch_by_commit_id_is_bounded_as_one_pack(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    """The path of a branch that moved, and of the MCP code map's trees: a fetch of a
    commit by its id. A small fetch is unpacked into loose objects, one file each, which a
    file size limit would not bound together; `max_bytes` keeps it one pack, stopped.
    Here: eight files of 4 MB, each under the 5 MB limit, 32 MB together."""
    sim, url = github
    large = large_blob_branch(sim.bare_path(REPO), 4_000_000, files=8)
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    bare = tmp_path / "bare.git"
    await git.run_git(["init", "--quiet", "--bare", str(bare)])
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        with pytest.raises(git.TransferTooLarge, match="File too large"):
            await git.fetch_commit(bare, remote, large, max_bytes=5_000_000)
    finally:
        await app.aclose()
    written = sum(p.stat().st_size for p in bare.rglob("*") if p.is_file())
    assert written <= 5_000_000 + 1_000_000, f"{written} bytes on disk"


async def test_a_server_that_says_file_too_large_is_not_taken_for_the_limit(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    """Attack: a git server whose pack fails with "File too large" in its own words (here
    a hook in place of its pack-objects). Those words reach the client as "remote: …";
    only git's own lines tell that our limit stopped the download, so the run fails as a
    failed clone, not as a commit over the tree limit."""
    sim, url = github
    hook = tmp_path / "hostile-pack-objects"
    hook.write_text('#!/bin/sh\necho "fatal: write error: File too large" >&2\nsleep 0.2\nexit 1\n')
    hook.chmod(0o755)
    sim.git_server_config = {"uploadpack.packObjectsHook": str(hook)}
    sha = sim.branch_sha(REPO, "main")
    assert sha is not None
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    limits = Settings(tree_max_mb=16, tree_max_entries=1_000).tree_limits
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        with pytest.raises(git.GitError) as raised:
            await workspace.ensure_checkout(tmp_path / "run-1", remote, "main", sha, limits)
    finally:
        await app.aclose()
    assert not isinstance(raised.value, git.TransferTooLarge | TreeBeyondLimits)
    assert "remote: fatal: write error: File too large" in raised.value.stderr
