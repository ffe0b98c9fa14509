"""`GitLabHookEvents` against the simulator's project hooks (tests/sim/gitlab/hooks.py):
which deliveries it reads as lost, and where it does not look."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from app.config import Settings
from app.forges.gitlab import hook_events
from app.forges.gitlab.hook_events import GitLabHookEvents
from app.forges.redeliver import redeliver_lost
from tests.sim.gitlab import GitLabSim

OURS = "http://127.0.0.1:9/webhooks/gitlab"  # nobody listens: each delivery fails


@pytest.fixture
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitLabSim, str]]:
    sim = GitLabSim(tmp_path_factory.mktemp("gl"))
    sim.add_user("dana")
    with sim.serve() as url:
        yield sim, url


def _hooks(url: str, sim: GitLabSim) -> GitLabHookEvents:
    settings = Settings(
        gitlab_url=url,
        gitlab_token=SecretStr(sim.bot_token),
        gitlab_webhook_secret=SecretStr("s" * 16),
        forge_timeout_seconds=10,
    )
    return GitLabHookEvents(settings, OURS + "/")  # a trailing slash is the same URL


def _note(sim: GitLabSim, project: str) -> None:
    iid = int(sim.add_issue(project, "x", "", author="dana")["iid"])
    payload = sim.webhook_note_event(project, "issue", iid, "/agentops help", "dana")
    sim.deliver_hook(project, "Note Hook", payload)


async def test_failed_deliveries_to_agentops_are_resent_once(
    gitlab: tuple[GitLabSim, str],
) -> None:
    sim, url = gitlab
    sim.add_project("team/ours", {"a.py": "x = 1\n"})  # the bot is Maintainer
    ours = sim.add_hook("team/ours", OURS, "token")
    sim.add_hook("team/ours", "http://127.0.0.1:9/someone-else", "token")
    sim.add_project("team/developer", {"a.py": "x = 1\n"}, bot_access=30)
    sim.add_hook("team/developer", OURS, "token")
    for project in ("team/ours", "team/ours", "team/developer"):
        _note(sim, project)

    asked: set[str] = set()

    async def first_time(guid: str) -> bool:
        fresh = guid not in asked
        asked.add(guid)
        return fresh

    hooks = _hooks(url, sim)
    try:
        done = await redeliver_lost(hooks, first_time, forge="GitLab")
        again = await redeliver_lost(hooks, first_time, forge="GitLab")
    finally:
        await hooks.aclose()
    # two lost on the hook to AgentOps; another service's hook and a project where the
    # bot may not read hooks (Developer) are not looked at
    assert (done.scanned, done.lost, done.asked) == (2, 2, 2)
    assert [hook for hook, _ in sim.hook_resends] == [ours, ours]
    # the resends failed too (still nobody there): seen again, not asked for again
    assert (again.scanned, again.lost, again.asked) == (4, 2, 0)
    developer = sim.project("team/developer").id
    looked = {r.path for r in sim.requests if "/hooks" in r.path}
    assert looked and not any(p.startswith(f"/projects/{developer}/") for p in looked)


async def test_a_known_project_where_the_bot_is_no_maintainer_is_passed_over(
    gitlab: tuple[GitLabSim, str],
) -> None:
    """The worker names the projects that reached AgentOps; the bot may be Developer in
    some (GitLab answers 403 to their hooks): the others are read all the same."""
    sim, url = gitlab
    developer = sim.add_project("team/developer", {"a.py": "x = 1\n"}, bot_access=30)
    sim.add_hook("team/developer", OURS, "token")
    ours = sim.add_project("team/ours", {"a.py": "x = 1\n"})
    sim.add_hook("team/ours", OURS, "token")
    _note(sim, "team/developer")
    _note(sim, "team/ours")

    hooks = _hooks(url, sim)
    hooks.projects = [developer.id, ours.id]
    try:
        found = await hooks.hook_deliveries(0.0)
    finally:
        await hooks.aclose()
    assert len(found) == 1 and found[0]["status_code"] == 0  # team/ours's, not delivered
    refused = [r.path for r in sim.requests if r.status == 403]
    assert refused == [f"/projects/{developer.id}/hooks"]


async def test_a_hook_with_more_events_than_the_cap_is_read_no_further(
    gitlab: tuple[GitLabSim, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a project's owner decides how many events its hook makes; the look reads a bounded
    # number of them (the listing's pages are fetched one at a time and no further)
    sim, url = gitlab
    sim.add_project("team/busy", {"a.py": "x = 1\n"})
    hook = sim.add_hook("team/busy", OURS, "token")
    for _ in range(210):
        _note(sim, "team/busy")
    monkeypatch.setattr(hook_events, "MAX_EVENTS_PER_HOOK", 150)
    events = f"/projects/{sim.project('team/busy').id}/hooks/{hook}/events"

    async def first_time(guid: str) -> bool:
        return True

    hooks = _hooks(url, sim)
    try:
        done = await redeliver_lost(hooks, first_time, forge="GitLab")
    finally:
        await hooks.aclose()
    assert done.scanned == 150
    assert sum(r.path == events for r in sim.requests) == 2  # pages 1 and 2 of 3
    assert "lists more than 150 events" in caplog.text
