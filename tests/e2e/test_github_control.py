"""On GitHub, end to end: webhook → web process → Postgres → Redis → worker → simulator."""

from __future__ import annotations

from typing import Any

import pytest

from app.forges.markers import unmarked
from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.sim.github import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/widgets"


@pytest.fixture(scope="module")
def gh(github: tuple[GitHubSim, str]) -> GitHubSim:
    sim, _ = github
    sim.add_repo(
        REPO,
        {
            "README.md": "# widgets\n",
            "widgets.py": "def spin():\n    return 1\n",
            "test_widgets.py": "from widgets import spin\n\n\ndef test_spin():\n    spin()\n",
            "pytest.ini": "[pytest]\n",
        },
    )
    sim.set_permission(REPO, "alice", "write")
    sim.set_permission(REPO, "mallory", "read")
    return sim


def _comment(gh: GitHubSim, number: int, body: str, sender: str) -> dict[str, Any]:
    comment_id = gh.add_comment(REPO, number, body, user=sender)
    return events.issue_comment(
        REPO, gh.installation_id(REPO), number, body, sender, comment_id=comment_id
    )


def _bot_comments(gh: GitHubSim, number: int) -> list[str]:
    """The bot's comments as people read them (without the hidden markers)."""
    return [
        unmarked(c["body"]) for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login
    ]


def test_help_is_answered_with_the_commands(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(REPO, "Spin faster", "widgets spin slowly", user="alice")
    payload = _comment(gh, number, "Hi!\n  /AgentOps help", "alice")
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    assert response.text.startswith("accepted: run ")

    replies = wait_for(lambda: _bot_comments(gh, number), what="the help reply")
    assert len(replies) == 1
    for command in ("implement", "plan", "test", "review", "fix", "status", "cancel", "retry"):
        assert f"/agentops {command}" in replies[0]
    comment_id = payload["comment"]["id"]
    assert gh.reactions(REPO, comment_id=comment_id) == ["eyes"]
    run_id = int(response.text.split()[-1])
    run = wait_for(lambda: service.finished(run_id), what="the run to finish")
    assert run["status"] == "succeeded"
    assert [s["name"] for s in run["steps"]][:2] == ["authorize", "acknowledge"]
    assert all(s["finished_at"] is not None for s in run["steps"])


def test_someone_without_write_access_is_refused_politely(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(REPO, "Please", "do it", user="mallory")
    payload = _comment(gh, number, "/agentops implement", "mallory")
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202

    replies = wait_for(lambda: _bot_comments(gh, number), what="the refusal")
    assert len(replies) == 1 and "only people with write access" in replies[0]
    run_id = int(response.text.split()[-1])
    run = wait_for(lambda: service.finished(run_id))
    assert run["status"] == "failed" and "no write access" in run["error"]
    assert [s["name"] for s in run["steps"]] == ["authorize", "acknowledge", "reply:refused"]
    assert not [c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id)]


def test_a_redelivered_webhook_starts_nothing_new(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(REPO, "Twice", "", user="alice")
    payload = _comment(gh, number, "/agentops help", "alice")
    first = service.post_github("issue_comment", payload, GITHUB_SECRET, delivery="d-1")
    assert first.status_code == 202
    wait_for(lambda: _bot_comments(gh, number), what="the first reply")

    again = service.post_github("issue_comment", payload, GITHUB_SECRET, delivery="d-1")
    assert again.status_code == 200 and again.text.startswith("duplicate")
    other_delivery = service.post_github("issue_comment", payload, GITHUB_SECRET, delivery="d-2")
    assert other_delivery.status_code == 200 and "duplicate command" in other_delivery.text
    runs = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    assert [r["trigger_key"] for r in runs].count(f"github:comment:{payload['comment']['id']}") == 1
    assert len(_bot_comments(gh, number)) == 1


def test_the_agentops_label_starts_an_implement_run(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(
        REPO, "Add a reverse spin", "spin() should take a direction", user="alice"
    )
    payload = events.issues_labeled(REPO, gh.installation_id(REPO), number, "agentops", "alice")
    response = service.post_github("issues", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    run_id = int(response.text.split()[-1])

    run = wait_for(lambda: service.finished(run_id), 30, what="the implement run")
    assert run["command"] == "implement" and run["trigger"] == "label"
    assert gh.reactions(REPO, number=number) == ["eyes"]
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["clone"]["status"] == "succeeded" and steps["clone"]["detail"]["files"] == 4
    checks = [c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id)]
    assert len(checks) == 1
    check = checks[0]
    assert check["head_sha"] == gh.branch_sha(REPO, "main")
    assert check["history"][0]["status"] == "in_progress"
    # No model is reachable in this module: the run says so where the person looks.
    assert check["status"] == "completed" and check["conclusion"] == "failure"
    # What failed and what to do; the detail (which models, why) is in the run's record.
    assert "The model provider is unavailable" in check["output"]["summary"]
    assert "every model for role planner failed" not in check["output"]["summary"]
    assert "every model for role planner failed" in run["error"]
    assert "[x] clone" in check["output"]["text"] and "[x] locate" in check["output"]["text"]
    assert "### Files chosen" in check["output"]["text"]


def test_a_non_command_comment_is_ignored(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(REPO, "Chat", "", user="alice")
    payload = _comment(gh, number, "```\n/agentops implement\n```\n> /agentops help", "alice")
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 200
    assert response.text.startswith("ignored: no /agentops command")


def test_status_and_retry_after_a_failed_run(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(REPO, "Retry me", "", user="alice")
    first = service.post_github(
        "issue_comment", _comment(gh, number, "/agentops plan", "alice"), GITHUB_SECRET
    )
    failed_id = int(first.text.split()[-1])
    assert wait_for(lambda: service.finished(failed_id))["status"] == "failed"

    retry = service.post_github(
        "issue_comment", _comment(gh, number, "/agentops retry", "alice"), GITHUB_SECRET
    )
    assert retry.status_code == 202
    reply = wait_for(
        lambda: [b for b in _bot_comments(gh, number) if b.startswith("Retrying")],
        what="the retry reply",
    )[0]
    new_id = int(reply.rstrip(".").split()[-1])
    assert reply == f"Retrying run {failed_id} as run {new_id}."
    again = wait_for(lambda: service.finished(new_id), 30, what="the retried run")
    assert again["retry_of"] == failed_id and again["command"] == "plan"

    status = service.post_github(
        "issue_comment", _comment(gh, number, "/agentops status", "alice"), GITHUB_SECRET
    )
    assert status.status_code == 202
    report = wait_for(
        lambda: [b for b in _bot_comments(gh, number) if "runs here" in b], what="the status reply"
    )[0]
    assert f"**Run {failed_id}**: `/agentops plan` by `@alice`, failed" in report
    assert f"**Run {new_id}**: `/agentops plan` by `@alice`, failed" in report
    assert "locate: succeeded" in report


def test_the_retry_button_on_a_check_run_reruns_that_run(service: Service, gh: GitHubSim) -> None:
    number = gh.add_issue(REPO, "Button", "", user="alice")
    first = service.post_github(
        "issue_comment", _comment(gh, number, "/agentops implement", "alice"), GITHUB_SECRET
    )
    run_id = int(first.text.split()[-1])
    wait_for(lambda: service.finished(run_id), 30, what="the first run")
    check = next(c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id))
    assert [a["identifier"] for a in check["actions"]] == ["retry"]

    payload = events.check_run_action(
        REPO,
        gh.installation_id(REPO),
        gh.app_id,
        check["id"],
        str(run_id),
        check["head_sha"],
        "retry",
        "alice",
    )
    clicked = service.post_github("check_run", payload, GITHUB_SECRET)
    assert clicked.status_code == 202, clicked.text
    reply = wait_for(
        lambda: [b for b in _bot_comments(gh, number) if b.startswith("Retrying")],
        what="the retry reply",
    )[0]
    assert reply.startswith(f"Retrying run {run_id} as run ")


def test_a_check_run_of_another_app_is_ignored(service: Service, gh: GitHubSim) -> None:
    payload = events.check_run_action(
        REPO, gh.installation_id(REPO), gh.app_id + 1, 1, "1", "0" * 40, "retry", "alice"
    )
    response = service.post_github("check_run", payload, GITHUB_SECRET)
    assert response.status_code == 200 and "another app" in response.text


def test_a_command_turned_off_in_agentops_yml_is_refused(service: Service, gh: GitHubSim) -> None:
    repo = "acme/quiet"
    gh.add_repo(repo, {"a.py": "A = 1\n", ".agentops.yml": "commands: [help, status]\n"})
    gh.set_permission(repo, "alice", "write")
    number = gh.add_issue(repo, "Do it", "", user="alice")
    comment_id = gh.add_comment(repo, number, "/agentops implement", user="alice")
    payload = events.issue_comment(
        repo,
        gh.installation_id(repo),
        number,
        "/agentops implement",
        "alice",
        comment_id=comment_id,
    )
    run_id = int(service.post_github("issue_comment", payload, GITHUB_SECRET).text.split()[-1])
    run = wait_for(lambda: service.finished(run_id), 30, what="the refused run")
    assert run["status"] == "failed"
    assert "`/agentops implement` is turned off for this repository" in run["error"]
    assert "plan" not in [s["name"] for s in run["steps"]]


def test_a_retry_after_a_rename_works_on_the_renamed_repository(
    service: Service, gh: GitHubSim
) -> None:
    """A run's repository is renamed and another repository takes the old name, with an
    issue of the same number: the run retried works on its own repository's issue."""
    old, renamed = "acme/gadgets", "acme/gadgets-old"
    gh.add_repo(old, {"README.md": "# gadgets\n"})
    gh.set_permission(old, "alice", "write")
    number = gh.add_issue(old, "Plan the gears", "", user="alice")
    payload = events.commented(gh, old, number, "/agentops plan", "alice")
    first = int(service.post_github("issue_comment", payload, GITHUB_SECRET).text.split()[-1])
    assert wait_for(lambda: service.finished(first))["status"] == "failed"

    gh.rename_repo(old, renamed)
    gh.add_repo(old, {"README.md": "# someone else's gadgets\n"})
    gh.set_permission(old, "alice", "write")
    other = gh.add_issue(old, "Something else", "", user="alice")
    assert other == number

    payload = events.commented(gh, renamed, number, "/agentops retry", "alice")
    assert service.post_github("issue_comment", payload, GITHUB_SECRET).status_code == 202

    def said(repo: str) -> list[str]:
        return [
            unmarked(c["body"])
            for c in gh.comments(repo, number)
            if c["user"]["login"] == gh.bot_login
        ]

    reply = wait_for(
        lambda: [b for b in said(renamed) if b.startswith("Retrying")], what="the retry reply"
    )[0]
    retried = int(reply.rstrip(".").split()[-1])
    assert wait_for(lambda: service.finished(retried), 30)["retry_of"] == first
    assert said(old) == []  # nothing on the other repository's issue
    assert len(said(renamed)) >= 3  # the first run's failure, the reply, the retried run's
