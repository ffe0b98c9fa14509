"""Who asked, and where, is proven by the forge: forged GitLab notes and labels, and
signed GitHub bodies sent again, through the real web and worker processes.

- A GitLab delivery carries its own project's token: a maintainer of one project cannot
  speak for another project, whatever user the payload names.
- With the right token, a note or label is read back through the API before the bot acts:
  a payload that names another author, a note that does not exist, or a label that is not
  on the issue is refused, and nothing happens in the project.
- A signed GitHub body sent again under a new `X-GitHub-Delivery` starts no second run.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import GITHUB_SECRET, GITLAB_SECRET, gitlab_token
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.gitlab_tokens import group_token
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim

pytestmark = pytest.mark.e2e
VICTIM = "finance/ledger"  # vic maintains it
ATTACKER = "mallory/own"  # mallory maintains it, and so knows its hook token
PROJECT = "finance/payroll"  # dana may write, eve may only report
REPO = "acme/replayed"
QUIET_SECONDS = 4.0  # how long "nothing happens" is watched for, after the worker's turn


@pytest.fixture(scope="module")
def gl(gitlab: tuple[GitLabSim, str]) -> GitLabSim:
    sim, _ = gitlab
    for user in ("vic", "mallory", "dana", "eve"):
        sim.add_user(user)
    files = {"README.md": "# ledger\n", "ledger.py": "TOTAL = 0\n"}
    sim.add_project(VICTIM, files)
    sim.set_access(VICTIM, "vic", 40)  # Maintainer
    sim.add_project(ATTACKER, files)
    sim.set_access(ATTACKER, "mallory", 40)
    sim.add_project(PROJECT, files)
    sim.set_access(PROJECT, "dana", 30)  # Developer
    sim.set_access(PROJECT, "eve", 20)  # Reporter
    return sim


@pytest.fixture(scope="module")
def gh(github: tuple[GitHubSim, str]) -> GitHubSim:
    sim, _ = github
    sim.add_repo(REPO, {"README.md": "# replayed\n", "app.py": "X = 1\n"})
    sim.set_permission(REPO, "alice", "write")
    return sim


def _post(service: Service, gl: GitLabSim, event: str, payload: dict[str, Any], token: str) -> Any:
    headers = gl.webhook_headers(event, token)
    return service.post_gitlab(payload, headers)


def _runs(service: Service, repo: str) -> list[dict[str, Any]]:
    runs = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    return [r for r in runs if r["repo"] == repo]


def _as_user(gl: GitLabSim, payload: dict[str, Any], username: str) -> dict[str, Any]:
    user = gl.users[username]
    return {**payload, "user": {"id": user.id, "name": user.name, "username": username}}


def _writes(gl: GitLabSim, project: str) -> list[str]:
    """What the bot changed in `project`: notes, emoji, statuses, merge requests, pushes."""
    proj = gl.project(project)
    prefixes = (f"/projects/{proj.id}/", f"/projects/{project}/", f"/{project}.git")
    return [
        f"{r.method} {r.path}"
        for r in gl.requests
        if r.method in ("POST", "PUT", "DELETE") and r.path.startswith(prefixes)
    ] + [
        f"{r.method} {r.path}"
        for r in gl.requests
        if "git-receive-pack" in r.path and r.path.startswith(f"/{project}")
    ]


def _refused_run(service: Service, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    run_id = int(response.text.split()[-1])
    return wait_for(lambda: service.finished(run_id), 30, what="the run to be refused")


# --- a token of one project does not speak for another ----------------------------------


def test_a_note_forged_for_another_project_with_ones_own_token_is_refused(
    service: Service, gl: GitLabSim
) -> None:
    iid = gl.add_issue(VICTIM, "Payouts", "pay everyone twice", author="vic")["iid"]
    # The payload says vic (a maintainer of the victim project) asked there; the note does
    # not exist. Mallory signs it with the only token she knows: her own project's.
    forged = gl.webhook_note_event(VICTIM, "issue", iid, "/agentops implement", "vic")
    gl.delete_note(VICTIM, "issue", iid, forged["object_attributes"]["id"])
    gl.clear_requests()

    own_token = _post(service, gl, "Note Hook", forged, gitlab_token(ATTACKER))
    shared = _post(service, gl, "Note Hook", forged, GITLAB_SECRET)  # the old shared secret
    for response in (own_token, shared):
        assert response.status_code == 401, response.text
        assert "X-Gitlab-Token does not match" in response.text
        assert gitlab_token(VICTIM) not in response.text
    assert f"does not match the secret of project {VICTIM}" in own_token.text

    time.sleep(QUIET_SECONDS)
    assert _runs(service, VICTIM) == []
    assert gl.notes(VICTIM, "issue", iid) == []
    assert gl.award_emoji(VICTIM, "issue", iid) == []
    assert gl.merge_requests(VICTIM) == []
    assert _writes(gl, VICTIM) == []
    assert [r for r in gl.requests if r.path.startswith(f"/projects/{gl.project(VICTIM).id}")] == []


def test_a_payload_naming_another_projects_id_is_refused(service: Service, gl: GitLabSim) -> None:
    # Mallory's own project, note and token, but the victim's numeric project id, by which
    # the run would be filed (the victim's tenant, its budget).
    iid = gl.add_issue(ATTACKER, "Mine", "", author="mallory")["iid"]
    payload = gl.webhook_note_event(ATTACKER, "issue", iid, "/agentops implement", "mallory")
    victim_id = gl.project(VICTIM).id
    payload["project"] = {**payload["project"], "id": victim_id}
    gl.clear_requests()

    run = _refused_run(service, _post(service, gl, "Note Hook", payload, gitlab_token(ATTACKER)))
    assert run["status"] == "failed"
    assert f"the webhook named project id {victim_id}, but {ATTACKER} is project" in run["error"]
    time.sleep(QUIET_SECONDS)
    assert _writes(gl, ATTACKER) == [] and _writes(gl, VICTIM) == []
    assert gl.award_emoji(ATTACKER, "issue", iid) == []


# --- the right token, but the API says otherwise -----------------------------------------


def test_a_note_whose_api_author_differs_from_the_payload_is_refused(
    service: Service, gl: GitLabSim
) -> None:
    iid = gl.add_issue(PROJECT, "Raise", "raise everyone's pay", author="eve")["iid"]
    # eve (Reporter) writes the command; the payload is forged to name dana (Developer).
    real = gl.webhook_note_event(PROJECT, "issue", iid, "/agentops implement", "eve")
    note_id = real["object_attributes"]["id"]
    forged = _as_user(gl, real, "dana")
    gl.clear_requests()

    run = _refused_run(service, _post(service, gl, "Note Hook", forged, gitlab_token(PROJECT)))
    assert run["status"] == "failed"
    assert f"comment {note_id} was written by @eve, not by @dana" in run["error"]
    assert [(s["name"], s["status"]) for s in run["steps"]] == [("verify", "failed")]
    time.sleep(QUIET_SECONDS)
    assert [n["author"]["username"] for n in gl.notes(PROJECT, "issue", iid)] == ["eve"]
    assert gl.award_emoji(PROJECT, "issue", iid, note_id=note_id) == []
    assert _writes(gl, PROJECT) == []
    # the note was read back by its id on its issue, and no one's access was looked up
    paths = [r.path for r in gl.requests if r.method == "GET"]
    assert any(p.endswith(f"/issues/{iid}/notes/{note_id}") for p in paths), paths
    assert not any("/members" in p for p in paths)


def test_a_note_that_does_not_exist_is_refused(service: Service, gl: GitLabSim) -> None:
    iid = gl.add_issue(PROJECT, "Bonus", "", author="dana")["iid"]
    payload = gl.webhook_note_event(PROJECT, "issue", iid, "/agentops implement", "dana")
    note_id = payload["object_attributes"]["id"]
    gl.delete_note(PROJECT, "issue", iid, note_id)
    gl.clear_requests()

    run = _refused_run(service, _post(service, gl, "Note Hook", payload, gitlab_token(PROJECT)))
    assert run["status"] == "failed"
    assert f"comment {note_id} does not exist" in run["error"]
    time.sleep(QUIET_SECONDS)
    assert gl.notes(PROJECT, "issue", iid) == [] and _writes(gl, PROJECT) == []


def test_a_note_whose_api_text_is_another_command_is_refused(
    service: Service, gl: GitLabSim
) -> None:
    iid = gl.add_issue(PROJECT, "Audit", "", author="dana")["iid"]
    real = gl.webhook_note_event(PROJECT, "issue", iid, "/agentops help", "dana")
    forged = {**real, "object_attributes": {**real["object_attributes"]}}
    forged["object_attributes"]["note"] = "/agentops implement"
    gl.clear_requests()

    run = _refused_run(service, _post(service, gl, "Note Hook", forged, gitlab_token(PROJECT)))
    assert run["status"] == "failed" and "does not say `/agentops implement`" in run["error"]
    time.sleep(QUIET_SECONDS)
    assert _writes(gl, PROJECT) == []


def test_a_label_that_is_not_on_the_issue_is_refused(service: Service, gl: GitLabSim) -> None:
    iid = gl.add_issue(PROJECT, "Cuts", "", author="dana")["iid"]
    payload = gl.webhook_issue_event(
        PROJECT, iid, "dana", labels_previous=[], labels_current=["agentops"]
    )
    gl.project(PROJECT).issues[iid]["labels"] = []  # the API says: no such label
    gl.clear_requests()

    run = _refused_run(service, _post(service, gl, "Issue Hook", payload, gitlab_token(PROJECT)))
    assert run["status"] == "failed"
    assert "the label 'agentops' is not on this issue" in run["error"]
    time.sleep(QUIET_SECONDS)
    assert gl.notes(PROJECT, "issue", iid) == [] and gl.award_emoji(PROJECT, "issue", iid) == []
    assert _writes(gl, PROJECT) == []


def test_a_label_added_by_someone_else_than_the_payload_says_is_refused(
    service: Service, gl: GitLabSim
) -> None:
    iid = gl.add_issue(PROJECT, "Overtime", "", author="eve")["iid"]
    # eve (Reporter) adds the label; the payload is forged to name dana (Developer)
    real = gl.webhook_issue_event(
        PROJECT, iid, "eve", labels_previous=[], labels_current=["agentops"]
    )
    forged = _as_user(gl, real, "dana")
    gl.clear_requests()

    run = _refused_run(service, _post(service, gl, "Issue Hook", forged, gitlab_token(PROJECT)))
    assert run["status"] == "failed"
    assert "the label 'agentops' was added by @eve, not by @dana" in run["error"]
    time.sleep(QUIET_SECONDS)
    assert gl.notes(PROJECT, "issue", iid) == [] and gl.award_emoji(PROJECT, "issue", iid) == []
    assert _writes(gl, PROJECT) == []
    paths = [r.path for r in gl.requests if r.method == "GET"]
    assert any(p.endswith(f"/issues/{iid}/resource_label_events") for p in paths), paths


def test_a_genuine_note_is_read_back_and_answered(service: Service, gl: GitLabSim) -> None:
    iid = gl.add_issue(PROJECT, "Help", "", author="dana")["iid"]
    payload = gl.webhook_note_event(PROJECT, "issue", iid, "/agentops help", "dana")
    gl.clear_requests()
    response = _post(service, gl, "Note Hook", payload, gitlab_token(PROJECT))
    assert response.status_code == 202, response.text
    run = wait_for(lambda: service.finished(int(response.text.split()[-1])), 30)
    assert run["status"] == "succeeded", run["error"]
    assert _writes(gl, PROJECT)  # the emoji and the reply: what the refusals above lack
    assert [s["name"] for s in run["steps"]][:3] == ["verify", "authorize", "acknowledge"]
    bot = [n for n in gl.notes(PROJECT, "issue", iid) if n["author"]["username"] == "agentops-bot"]
    assert len(bot) == 1 and "/agentops implement" in bot[0]["body"]


def test_a_group_hooks_token_speaks_for_the_projects_under_it(
    service: Service, gl: GitLabSim
) -> None:
    iid = gl.add_issue(PROJECT, "Group", "", author="dana")["iid"]
    payload = gl.webhook_note_event(PROJECT, "issue", iid, "/agentops help", "dana")
    response = _post(service, gl, "Note Hook", payload, group_token(GITLAB_SECRET, "finance"))
    assert response.status_code == 202, response.text
    other = gl.webhook_note_event(
        ATTACKER, "issue", gl.add_issue(ATTACKER, "x")["iid"], "/agentops help", "mallory"
    )
    refused = _post(service, gl, "Note Hook", other, group_token(GITLAB_SECRET, "finance"))
    assert refused.status_code == 401


# --- GitHub: a signed body sent again -----------------------------------------------------


def test_a_replayed_signed_label_event_with_a_new_delivery_id_starts_no_second_run(
    service: Service, gh: GitHubSim
) -> None:
    number = gh.add_issue(REPO, "Add Y", "Y = 2", user="alice")
    event, payload = gh.webhook_labeled_event(REPO, number, "agentops", user="alice")
    first = service.post_github(event, payload, GITHUB_SECRET, delivery=str(uuid.uuid4()))
    assert first.status_code == 202, first.text
    run = wait_for(lambda: service.finished(int(first.text.split()[-1])), 60)

    replay = service.post_github(event, payload, GITHUB_SECRET, delivery=str(uuid.uuid4()))
    assert replay.status_code == 200 and replay.text.startswith("duplicate"), replay.text
    time.sleep(QUIET_SECONDS)
    assert [r["id"] for r in _runs(service, REPO) if r["target_number"] == number] == [run["id"]]
    assert gh.reactions(REPO, number=number) == ["eyes"]
    assert len([c for c in gh.check_runs(REPO) if c["external_id"] == str(run["id"])]) == 1

    # A check run button pressed once, then the same signed body again: one retry.
    check = next(c for c in gh.check_runs(REPO) if c["external_id"] == str(run["id"]))
    click = gh.webhook_check_run_event(REPO, check["id"], "retry", user="alice")
    pressed = service.post_github("check_run", click, GITHUB_SECRET, delivery=str(uuid.uuid4()))
    assert pressed.status_code == 202, pressed.text
    again = service.post_github("check_run", click, GITHUB_SECRET, delivery=str(uuid.uuid4()))
    assert again.status_code == 200 and again.text.startswith("duplicate"), again.text
    retries = [r for r in _runs(service, REPO) if r["trigger"] == "check_run"]
    assert len(retries) == 1
