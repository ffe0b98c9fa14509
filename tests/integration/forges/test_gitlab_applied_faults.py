"""GitLabForge when GitLab fails *after* a write: the POST was applied, but the answer is
a 5xx, a cut connection or too late. A note is never posted twice: the one the failed try
made is found by its marker and returned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.forges.base import CheckUpdate, ForgeTransientError, Target
from app.forges.gitlab.forge import GitLabForge
from app.forges.markers import carries, run_key, unmarked
from tests.integration.forges.test_gitlab_forge import FAST, REPO, api_calls, make_forge
from tests.sim.gitlab import GitLabSim
from tests.sim.serve import SwitchableApp

ISSUE = Target(REPO, "issue", 1)
NOTES = r"/issues/1/notes$"


@pytest.fixture
def sim(server: tuple[SwitchableApp, str], tmp_path: Path) -> GitLabSim:
    switch, base = server
    sim = GitLabSim(tmp_path)
    sim.base_url = base
    switch.current = sim.app
    sim.add_user("alice")
    sim.add_user("mallory")
    sim.add_project(REPO, {"README.md": "# app\n"})
    sim.set_access(REPO, "alice", 30)
    sim.add_issue(REPO, "Add subtraction", "Please add sub()", author="alice")
    return sim


@pytest.fixture
async def forge(sim: GitLabSim) -> AsyncIterator[GitLabForge]:
    forge = make_forge(sim)
    yield forge
    await forge.aclose()


def bot_notes(sim: GitLabSim) -> list[dict[str, object]]:
    return [n for n in sim.notes(REPO, "issue", 1) if n["author"]["username"] == "agentops-bot"]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_an_applied_note_is_found_not_posted_again(
    forge: GitLabForge, sim: GitLabSim, status: int
) -> None:
    sim.fail("POST", NOTES, status=status, applied=True)
    comment = await forge.create_comment(ISSUE, "Working on it", run_key(7, "reply:ack"))
    [note] = bot_notes(sim)
    assert comment.id == note["id"]
    assert unmarked(str(note["body"])) == "Working on it"
    assert carries(str(note["body"]), run_key(7, "reply:ack"))
    assert [r.status for r in api_calls(sim, "POST", "/notes")] == [status]


async def test_a_cut_connection_after_the_write_is_found(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    sim.drop("POST", NOTES, applied=True)
    comment = await forge.create_comment(ISSUE, "hello")
    assert [n["id"] for n in bot_notes(sim)] == [comment.id]
    assert len(api_calls(sim, "POST", "/notes")) == 1


async def test_an_answer_too_late_after_the_write_is_found(sim: GitLabSim) -> None:
    forge = make_forge(sim, timeout=0.5)
    try:
        sim.delay("POST", NOTES, seconds=1.5, applied=True)
        comment = await forge.create_comment(ISSUE, "hello")
    finally:
        await forge.aclose()
    assert [n["id"] for n in bot_notes(sim)] == [comment.id]


async def test_a_failure_that_made_nothing_is_tried_again(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    sim.drop("POST", NOTES)  # cut before anything was written
    comment = await forge.create_comment(ISSUE, "hello")
    assert [n["id"] for n in bot_notes(sim)] == [comment.id]
    assert [r.status for r in api_calls(sim, "POST", "/notes")] == [200, 201]


async def test_when_the_lookup_fails_too_nothing_is_posted_again(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    sim.fail("POST", NOTES, status=500, applied=True)
    sim.fail("GET", NOTES, status=502, times=10)
    with pytest.raises(ForgeTransientError):
        await forge.create_comment(ISSUE, "hello")
    assert len(api_calls(sim, "POST", "/notes")) == 1 and len(bot_notes(sim)) == 1


async def test_every_try_failing_raises_after_the_policy(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    sim.fail("POST", NOTES, status=500, times=10)
    with pytest.raises(ForgeTransientError):
        await forge.create_comment(ISSUE, "hello")
    assert [r.status for r in api_calls(sim, "POST", "/notes")] == [500] * FAST.attempts
    assert bot_notes(sim) == []


async def test_find_comment_knows_only_the_bot_s_own_markers(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    key = run_key(3, "reply:plan")
    assert await forge.find_comment(ISSUE, key) is None
    posted = await forge.create_comment(ISSUE, "The plan", key)
    sim.add_note(REPO, "issue", 1, f"copied: {posted.body}", author="mallory")
    found = await forge.find_comment(ISSUE, key)
    assert found is not None and found.id == posted.id
    assert await forge.find_comment(ISSUE, run_key(3, "reply:other")) is None


async def test_the_progress_note_of_a_run_is_made_once_and_found(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    sha = sim.head_sha(REPO) or ""
    sim.fail("POST", NOTES, status=502, applied=True)
    update = CheckUpdate("in_progress", "Working", "run 12", external_id="12")
    ref = await forge.start_check(REPO, sha, update, target=ISSUE)
    [note] = bot_notes(sim)
    assert ref.id == note["id"]
    found = await forge.find_check(REPO, sha, "12", target=ISSUE)
    assert found is not None and found.id == ref.id
    assert await forge.find_check(REPO, sha, "13", target=ISSUE) is None
    await forge.update_check(
        found, CheckUpdate("completed", "Done", "all good", conclusion="success", external_id="12")
    )
    [note] = bot_notes(sim)
    assert "Done" in str(note["body"])
    assert carries(str(note["body"]), run_key(12, "check"))  # an edit keeps the marker
