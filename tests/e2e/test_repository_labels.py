"""Labels a repository maps in `.agentops.yml`, end to end on GitHub and GitLab: the
intake stores a label check, the worker reads the file and starts the same run an
operator label starts; an unrelated label leaves nothing on the forge."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from handlers.github import label_event_key
from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, gitlab_token
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, structured

pytestmark = pytest.mark.e2e
REPO = "acme/labelled"
PROJECT = "shop/labelled"
CONFIG = "labels:\n  bot-please: implement\n  needs-review: review\n"


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


@pytest.fixture(scope="module")
def gh(github: tuple[GitHubSim, str]) -> GitHubSim:
    sim, _ = github
    sim.add_repo(REPO, {**script.FILES, ".agentops.yml": CONFIG})
    sim.set_permission(REPO, "alice", "write")
    sim.set_permission(REPO, "mallory", "triage")  # may add labels, may not write
    return sim


@pytest.fixture(scope="module")
def gl(gitlab: tuple[GitLabSim, str]) -> GitLabSim:
    sim, _ = gitlab
    sim.add_user("dana")
    sim.add_user("eve")
    sim.add_project(PROJECT, {**script.FILES, ".agentops.yml": CONFIG})
    sim.set_access(PROJECT, "dana", 30)  # Developer
    sim.set_access(PROJECT, "eve", 20)  # Reporter: may label, may not write
    return sim


def _label_github(
    service: Service,
    gh: GitHubSim,
    number: int,
    label: str,
    sender: str,
) -> tuple[Any, str]:
    """The answer, and the key of the run the label event may start (its content)."""
    delivery = str(uuid.uuid4())
    payload = events.issues_labeled(REPO, gh.installation_id(REPO), number, label, sender)
    response = service.post_github("issues", payload, GITHUB_SECRET, delivery=delivery)
    return response, _github_key(payload, number, label, delivery)


def _github_key(payload: dict[str, Any], number: int, label: str, delivery: str) -> str:
    updated_at = (payload.get("issue") or payload.get("pull_request") or {}).get("updated_at")
    return label_event_key(payload["repository"]["id"], number, label, updated_at, delivery)


def _label_gitlab(
    service: Service, gl: GitLabSim, iid: int, label: str, author: str
) -> tuple[Any, str]:
    """The answer, and the key of the run the label event may start (its content)."""
    payload = gl.webhook_issue_event(
        PROJECT, iid, author, labels_previous=[], labels_current=[label]
    )
    headers = gl.webhook_headers("Issue Hook", gitlab_token(PROJECT), uuid=str(uuid.uuid4()))
    return service.post_gitlab(payload, headers), _gitlab_key(gl, payload, "issue", iid, label)


def _gitlab_key(gl: GitLabSim, payload: dict[str, Any], kind: str, iid: int, label: str) -> str:
    when = payload["object_attributes"]["updated_at"]
    return f"gitlab:{gl.base_url.rstrip('/')}:label:{PROJECT}:{kind}:{iid}:{label}:{when}"


def _run_for(service: Service, trigger_key: str) -> dict[str, Any] | None:
    runs = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    return next((r for r in runs if r["trigger_key"] == trigger_key), None)


def _pending_label_checks(database_url: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM label_checks"))
        finally:
            await conn.close()

    return asyncio.run(count())


def _bot_comments(gh: GitHubSim, number: int) -> list[str]:
    return [c["body"] for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login]


def test_a_repository_label_implements_a_github_issue(
    service: Service, gh: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    script.script_direct_resolution(llm[0])
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    response, key = _label_github(service, gh, number, "bot-please", "alice")
    assert response.status_code == 202, response.text
    assert response.text.startswith("accepted: label check ")

    started = wait_for(lambda: _run_for(service, key), 30, what="the run the label starts")
    run = wait_for(lambda: service.finished(started["id"]), 120, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert (run["command"], run["trigger"], run["requested_by"]) == ("implement", "label", "alice")
    assert run["context"]["label"] == "bot-please"
    assert run["context"]["label_source"] == "repository"
    assert gh.reactions(REPO, number=number) == ["eyes"]  # acknowledged like `agentops`
    check = next(c for c in gh.check_runs(REPO) if c["external_id"] == str(run["id"]))
    assert check["head_sha"] == gh.branch_sha(REPO, "main")
    assert check["conclusion"] == "success"
    pulls = [p for p in gh.pulls(REPO) if f"Closes #{number}" in p["body"]]
    assert len(pulls) == 1 and pulls[0]["draft"] is True
    assert any("Opened draft pull request" in c for c in _bot_comments(gh, number))


def test_a_repository_label_implements_a_gitlab_issue(
    service: Service, gl: GitLabSim, llm: tuple[LLMSimulator, str]
) -> None:
    script.script_direct_resolution(llm[0])
    iid = gl.add_issue(PROJECT, script.ISSUE_TITLE, script.ISSUE_BODY, author="dana")["iid"]
    response, key = _label_gitlab(service, gl, iid, "bot-please", "dana")
    assert response.status_code == 202, response.text
    assert response.text.startswith("accepted: label check ")

    started = wait_for(lambda: _run_for(service, key), 30, what="the run the label starts")
    run = wait_for(lambda: service.finished(started["id"]), 120, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert (run["command"], run["trigger"], run["forge"]) == ("implement", "label", "gitlab")
    assert [e["name"] for e in gl.award_emoji(PROJECT, "issue", iid)] == ["eyes"]
    sha = gl.head_sha(PROJECT, "main")
    assert sha is not None
    assert [s["status"] for s in gl.statuses(PROJECT, sha)][-1] == "success"
    requests = [m for m in gl.merge_requests(PROJECT) if f"Closes #{iid}" in m["description"]]
    assert len(requests) == 1


def test_a_repository_label_reviews_pull_and_merge_requests(
    service: Service, gh: GitHubSim, gl: GitLabSim, llm: tuple[LLMSimulator, str]
) -> None:
    change = {"calc.py": script.FILES["calc.py"].replace("a / b", "a / b if b else 0")}
    answer = {"summary": "Returning 0 hides the error.", "comments": []}
    gh.push_branch(REPO, "quiet-zero", change, message="quiet zero")
    number = gh.add_pull(REPO, "quiet-zero", title="Quiet zero", user="alice")
    llm[0].script(script.PLANNER, structured(answer))  # the reviewer role in this module
    event, payload = gh.webhook_labeled_event(REPO, number, "needs-review", user="alice")
    delivery = str(uuid.uuid4())
    response = service.post_github(event, payload, GITHUB_SECRET, delivery=delivery)
    assert (event, response.status_code) == ("pull_request", 202), response.text
    key = _github_key(payload, number, "needs-review", delivery)
    started = wait_for(lambda: _run_for(service, key), 30)
    run = wait_for(lambda: service.finished(started["id"]), 90, what="the review run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert (run["command"], run["target_kind"]) == ("review", "pull_request")
    [review] = gh.reviews(REPO, number)
    assert answer["summary"] in review["body"]

    gl.push_files(PROJECT, "quiet-zero", change, message="quiet zero")
    iid = gl.add_merge_request(PROJECT, "quiet-zero", title="Quiet zero", author="dana")["iid"]
    llm[0].script(script.PLANNER, structured(answer))
    delivery = str(uuid.uuid4())
    hook = gl.webhook_merge_request_event(
        PROJECT, iid, "dana", labels_previous=[], labels_current=["needs-review"]
    )
    response = service.post_gitlab(
        hook, gl.webhook_headers("Merge Request Hook", gitlab_token(PROJECT), uuid=delivery)
    )
    assert response.status_code == 202, response.text
    key = _gitlab_key(gl, hook, "pull_request", iid, "needs-review")
    started = wait_for(lambda: _run_for(service, key), 30)
    run = wait_for(lambda: service.finished(started["id"]), 90, what="the review run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert (run["command"], run["target_kind"]) == ("review", "pull_request")
    notes = [n["body"] for n in gl.notes(PROJECT, "merge_request", iid)]
    assert any(answer["summary"] in n for n in notes)


def test_unrelated_labels_leave_nothing_behind(
    service: Service, gh: GitHubSim, gl: GitLabSim, e2e_database_url: str
) -> None:
    number = gh.add_issue(REPO, "Crash on start", "", user="alice")
    iid = gl.add_issue(PROJECT, "Crash on start", "", author="dana")["iid"]
    runs_before = len(service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"])
    checks_before = len(gh.check_runs(REPO))
    answers = [
        _label_github(service, gh, number, "bug", "alice")[0],
        _label_github(service, gh, number, "needs-review", "alice")[0],  # PRs only
        _label_github(service, gh, number, "bug", "mallory")[0],
        _label_gitlab(service, gl, iid, "bug", "dana")[0],
        _label_gitlab(service, gl, iid, "wontfix", "eve")[0],
    ]
    assert [a.status_code for a in answers] == [202] * 5, [a.text for a in answers]

    wait_for(
        lambda: _pending_label_checks(e2e_database_url) == 0,
        30,
        what="the worker to decide the label checks",
    )
    assert len(service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]) == runs_before
    assert gh.comments(REPO, number) == []
    assert gh.reactions(REPO, number=number) == []
    assert len(gh.check_runs(REPO)) == checks_before
    assert gl.notes(PROJECT, "issue", iid) == []
    assert gl.award_emoji(PROJECT, "issue", iid) == []


def test_without_write_access_a_repository_label_is_refused_like_agentops(
    service: Service, gh: GitHubSim, gl: GitLabSim
) -> None:
    number = gh.add_issue(REPO, "Please", "do it", user="mallory")
    payload = events.issues_labeled(REPO, gh.installation_id(REPO), number, "bot-please", "mallory")
    delivery = str(uuid.uuid4())
    response = service.post_github("issues", payload, GITHUB_SECRET, delivery=delivery)
    key = _github_key(payload, number, "bot-please", delivery)
    assert response.status_code == 202, response.text
    started = wait_for(lambda: _run_for(service, key), 30, what="the run the label starts")
    run = wait_for(lambda: service.finished(started["id"]), 30)
    assert run["status"] == "failed" and "no write access" in run["error"]
    assert [s["name"] for s in run["steps"]] == ["authorize", "acknowledge", "reply:refused"]
    replies = _bot_comments(gh, number)
    assert len(replies) == 1 and "only people with write access" in replies[0]
    assert not [c for c in gh.check_runs(REPO) if c["external_id"] == str(run["id"])]

    # A redelivery, or the signed body sent again under a new delivery id, starts nothing;
    # the label removed and added again is a new request.
    again = service.post_github("issues", payload, GITHUB_SECRET, delivery=delivery)
    assert again.status_code == 200 and again.text.startswith("duplicate"), again.text
    replayed = service.post_github("issues", payload, GITHUB_SECRET, delivery=str(uuid.uuid4()))
    assert replayed.status_code == 200 and replayed.text.startswith("duplicate"), replayed.text
    readded, second = _label_github(service, gh, number, "bot-please", "mallory")
    assert readded.status_code == 202
    other = wait_for(lambda: _run_for(service, second), 30)
    assert other["id"] != run["id"]
    wait_for(lambda: service.finished(other["id"]), 30)
    assert len(_bot_comments(gh, number)) == 2

    iid = gl.add_issue(PROJECT, "Please", "", author="eve")["iid"]
    response, _ = _label_gitlab(service, gl, iid, "bot-please", "eve")
    assert response.status_code == 202, response.text
    notes = wait_for(
        lambda: [
            n["body"]
            for n in gl.notes(PROJECT, "issue", iid)
            if n["author"]["username"] == "agentops-bot"
        ],
        30,
        what="the refusal note",
    )
    assert len(notes) == 1 and "only people with write access" in notes[0]
