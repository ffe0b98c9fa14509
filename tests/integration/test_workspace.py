"""A run's checkout rebuilt at its recorded commit, also after the branch moved on."""

from __future__ import annotations

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
