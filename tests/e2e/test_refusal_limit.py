"""Someone without write access sends command after command: through the real web and
worker processes, only the first few get the 👀 and the refusal (the default limit, 5 per
person and repository per hour); the rest end refused with nothing posted, and other
people and repositories are not affected."""

from __future__ import annotations

from typing import Any

import pytest

from app.forges.markers import unmarked
from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import Service, wait_for
from tests.sim.github_sim import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/spam-target"
OTHER_REPO = "acme/elsewhere"
DEFAULT_LIMIT = 5


@pytest.fixture(scope="module")
def gh(github: tuple[GitHubSim, str]) -> GitHubSim:
    sim, _ = github
    for repo in (REPO, OTHER_REPO):
        sim.add_repo(repo, {"README.md": "# app\n"})
        sim.set_permission(repo, "alice", "write")
        sim.set_permission(repo, "mallory", "read")
    return sim


def command(service: Service, gh: GitHubSim, repo: str, number: int, sender: str) -> int:
    body = "/agentops help"
    comment_id = gh.add_comment(repo, number, body, user=sender)
    payload = events.issue_comment(
        repo, gh.installation_id(repo), number, body, sender, comment_id=comment_id
    )
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    return int(response.text.split()[-1])


def refusals(gh: GitHubSim, repo: str, number: int) -> list[str]:
    return [
        unmarked(c["body"])
        for c in gh.comments(repo, number)
        if c["user"]["login"] == gh.bot_login and "only people with write access" in c["body"]
    ]


def finished(service: Service, run_ids: list[int]) -> list[dict[str, Any]] | None:
    runs = [run for r in run_ids if (run := service.finished(r)) is not None]
    return runs if len(runs) == len(run_ids) else None


def test_refusals_stop_at_the_limit_per_person_and_repository(
    service: Service, gh: GitHubSim
) -> None:
    number = gh.add_issue(REPO, "Spam", "", user="mallory")
    sent = 3 * DEFAULT_LIMIT
    run_ids = [command(service, gh, REPO, number, "mallory") for _ in range(sent)]
    runs = wait_for(lambda: finished(service, run_ids), 120, what="every refused run to end")

    assert all(r["status"] == "failed" and "no write access" in r["error"] for r in runs)
    silent = [r for r in runs if "nothing posted" in r["error"]]
    assert len(silent) == sent - DEFAULT_LIMIT
    assert all(s["name"] == "authorize" for r in silent for s in r["steps"])
    assert len(refusals(gh, REPO, number)) == DEFAULT_LIMIT
    assert gh.reactions(REPO, number=number) == []
    eyes = [c for c in gh.comments(REPO, number) if gh.reactions(REPO, comment_id=c["id"])]
    assert len(eyes) == DEFAULT_LIMIT
    assert "nothing posted" in service.worker.output()

    # The same person elsewhere, and someone with write access here, are answered as ever.
    other_number = gh.add_issue(OTHER_REPO, "Hello", "", user="mallory")
    elsewhere = command(service, gh, OTHER_REPO, other_number, "mallory")
    writer = command(service, gh, REPO, number, "alice")
    done = wait_for(lambda: finished(service, [elsewhere, writer]), 60, what="the two runs")
    assert "nothing posted" not in done[0]["error"]
    assert len(refusals(gh, OTHER_REPO, other_number)) == 1
    assert done[1]["status"] == "succeeded"
    assert [s["name"] for s in done[1]["steps"]][:2] == ["authorize", "acknowledge"]
    assert len(refusals(gh, REPO, number)) == DEFAULT_LIMIT
