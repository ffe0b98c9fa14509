"""GitHubForge when GitHub fails *after* a write: the POST was applied, but the answer is
a 5xx or a cut connection. A creation is never repeated blindly: the comment (check run)
the failed try made is found by its marker (external id) and returned, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.forges.base import CheckUpdate, ForgeAPIError, ForgeTransientError, Target
from app.forges.github.auth import GitHubApp
from app.forges.github.forge import GitHubForge
from app.forges.markers import carries, run_key, unmarked
from tests.integration.forges.test_github_forge import FAST, REPO, calls, make_sim
from tests.sim.github import GitHubSim

COMMENTS = r"^POST /repos/acme/app/issues/\d+/comments$"


@pytest.fixture
def sim(tmp_path: Path) -> GitHubSim:
    return make_sim(tmp_path)


@pytest.fixture
async def gh(sim: GitHubSim, base_url: str) -> AsyncIterator[GitHubApp]:
    app = GitHubApp(
        sim.app_id, sim.private_key_pem, api_url=base_url, retry=FAST, bot_login=sim.bot_login
    )
    yield app
    await app.aclose()


@pytest.fixture
def forge(gh: GitHubApp, sim: GitHubSim) -> GitHubForge:
    return gh.forge(sim.installation_id(REPO))


@pytest.fixture
def issue(sim: GitHubSim) -> Target:
    return Target(REPO, "issue", sim.add_issue(REPO, "Add a flag", "please", user="alice"))


@pytest.mark.parametrize("kind", ["500", "502", "drop"])
async def test_an_applied_comment_is_found_not_posted_again(
    forge: GitHubForge, sim: GitHubSim, issue: Target, kind: str
) -> None:
    sim.fail_next(COMMENTS, kind, applied=True)
    comment = await forge.create_comment(issue, "Working on it", run_key(7, "reply:ack"))
    [stored] = sim.comments(REPO, issue.number)
    assert comment.id == stored["id"]
    assert unmarked(stored["body"]) == "Working on it"
    assert carries(stored["body"], run_key(7, "reply:ack"))
    assert len(calls(sim, "POST", "/comments")) == 1  # looked for, not posted again


async def test_a_comment_without_a_key_is_guarded_too(
    forge: GitHubForge, sim: GitHubSim, issue: Target
) -> None:
    sim.fail_next(COMMENTS, "503", applied=True)
    comment = await forge.create_comment(issue, "hello")
    assert [c["id"] for c in sim.comments(REPO, issue.number)] == [comment.id]


async def test_a_failure_that_made_nothing_is_tried_again(
    forge: GitHubForge, sim: GitHubSim, issue: Target
) -> None:
    sim.fail_next(COMMENTS, "502")  # not applied
    comment = await forge.create_comment(issue, "hello")
    assert calls(sim, "POST", "/comments") == [502, 201]
    assert [c["id"] for c in sim.comments(REPO, issue.number)] == [comment.id]


async def test_when_nothing_is_found_and_every_try_fails_it_raises(
    forge: GitHubForge, sim: GitHubSim, issue: Target
) -> None:
    sim.fail_next(COMMENTS, "500", count=10)
    with pytest.raises(ForgeTransientError):
        await forge.create_comment(issue, "hello")
    assert calls(sim, "POST", "/comments") == [500] * FAST.attempts
    assert sim.comments(REPO, issue.number) == []


async def test_when_the_lookup_fails_too_nothing_is_posted_again(
    forge: GitHubForge, sim: GitHubSim, issue: Target
) -> None:
    sim.fail_next(COMMENTS, "500", applied=True)
    sim.fail_next(r"^GET /repos/acme/app/issues/\d+/comments$", "502", count=10)
    with pytest.raises(ForgeTransientError):
        await forge.create_comment(issue, "hello")
    assert len(calls(sim, "POST", "/comments")) == 1
    assert len(sim.comments(REPO, issue.number)) == 1


async def test_a_refusal_is_raised_and_not_retried(
    forge: GitHubForge, sim: GitHubSim, issue: Target
) -> None:
    with pytest.raises(ForgeAPIError) as caught:
        await forge.create_comment(Target(REPO, "issue", 999), "hello")
    assert caught.value.status == 404
    assert calls(sim, "POST", "/comments") == [404]


async def test_find_comment_knows_only_the_bot_s_own_markers(
    forge: GitHubForge, sim: GitHubSim, issue: Target
) -> None:
    key = run_key(3, "reply:plan")
    assert await forge.find_comment(issue, key) is None
    posted = await forge.create_comment(issue, "The plan", key)
    sim.add_comment(REPO, issue.number, f"copied: {posted.body}", user="mallory")
    found = await forge.find_comment(issue, key)
    assert found is not None and found.id == posted.id
    assert await forge.find_comment(issue, run_key(3, "reply:other")) is None


@pytest.mark.parametrize("kind", ["500", "drop"])
async def test_an_applied_check_run_is_found_not_created_again(
    forge: GitHubForge, sim: GitHubSim, kind: str
) -> None:
    sha = sim.branch_sha(REPO, "main") or ""
    sim.fail_next(r"^POST /repos/acme/app/check-runs$", kind, applied=True)
    ref = await forge.start_check(
        REPO, sha, CheckUpdate("in_progress", "Working", "run 12", external_id="12")
    )
    [run] = sim.check_runs(REPO)
    assert ref.id == run["id"] and run["external_id"] == "12"
    found = await forge.find_check(REPO, sha, "12")
    assert found is not None and found.id == ref.id
    assert await forge.find_check(REPO, sha, "13") is None
