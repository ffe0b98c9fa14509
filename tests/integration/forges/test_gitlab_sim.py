"""The GitLab simulator itself: auth, GitLab's rules, pagination, webhook payload shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from tests.sim.gitlab_sim import GitLabSim

REPO = "group/app"
PID = "group%2Fapp"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[GitLabSim]:
    sim = GitLabSim(tmp_path)
    sim.add_user("alice")
    sim.add_project(REPO, {"README.md": "hi\n"})
    sim.set_access(REPO, "alice", 30)
    sim.add_issue(REPO, "Bug", "It breaks", author="alice", labels=["bug"])
    sim.push_files(REPO, "feature", {"x.txt": "x\n"})
    sim.add_merge_request(REPO, "feature", "main", "Draft: Feature", author="alice")
    with sim.serve():
        yield sim


def client(sim: GitLabSim, token: str | None = None) -> gitlab.Gitlab:
    return gitlab.Gitlab(sim.base_url, private_token=token or sim.bot_token, timeout=5)


def test_unauthenticated_api_calls_get_401(sim: GitLabSim) -> None:
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(sim, "glpat-not-a-real-token-000").http_get(f"/projects/{PID}")
    project = client(sim).http_get(f"/projects/{PID}")
    assert isinstance(project, dict) and project["path_with_namespace"] == REPO
    by_id = client(sim).http_get(f"/projects/{project['id']}")
    assert isinstance(by_id, dict) and by_id["id"] == project["id"]


def test_pagination_follows_link_headers(sim: GitLabSim) -> None:
    for n in range(45):
        sim.add_note(REPO, "issue", 1, f"note {n}", author="alice")
    notes = client(sim).http_list(
        f"/projects/{PID}/issues/1/notes", get_all=True, sort="asc", order_by="created_at"
    )
    assert [n["body"] for n in notes] == [f"note {n}" for n in range(45)]
    pages = [r for r in sim.requests if r.path.endswith("/notes")]
    assert len(pages) == 3


def test_commit_status_transitions(sim: GitLabSim) -> None:
    gl = client(sim)
    sha = sim.head_sha(REPO)
    assert sha is not None
    url = f"/projects/{PID}/statuses/{sha}"

    def posted(state: str) -> object:
        answer = gl.http_post(url, post_data={"state": state, "name": "ci"})
        assert isinstance(answer, dict)
        return answer["status"]

    assert posted("pending") == "pending"
    with pytest.raises(gitlab.GitlabHttpError, match="Cannot transition status via :enqueue"):
        gl.http_post(url, post_data={"state": "pending", "name": "ci"})
    assert posted("running") == "running"
    with pytest.raises(
        gitlab.GitlabHttpError, match="Cannot transition status via :run from :running"
    ):
        gl.http_post(url, post_data={"state": "running", "name": "ci"})
    assert posted("success") == "success"
    assert [s["status"] for s in sim.statuses(REPO, sha)] == ["success"]


def test_faults_are_scripted_per_route(sim: GitLabSim) -> None:
    sim.fail("GET", r"/issues/1$", status=503, times=1)
    gl = client(sim)
    with pytest.raises(gitlab.GitlabHttpError) as caught:
        gl.http_get(f"/projects/{PID}/issues/1")
    assert caught.value.response_code == 503
    issue = gl.http_get(f"/projects/{PID}/issues/1")
    assert isinstance(issue, dict) and issue["title"] == "Bug"
    assert [r.status for r in sim.requests if r.path.endswith("/issues/1")] == [503, 200]


def test_webhook_note_event_on_issue(sim: GitLabSim) -> None:
    payload = sim.webhook_note_event(REPO, "issue", 1, "/agentops implement", author="alice")
    assert payload["object_kind"] == "note" and payload["event_type"] == "note"
    assert payload["user"]["username"] == "alice" and payload["user"]["id"]
    project = payload["project"]
    assert project["path_with_namespace"] == REPO and project["default_branch"] == "main"
    assert project["web_url"] == f"{sim.base_url}/{REPO}"
    assert project["git_http_url"] == f"{sim.base_url}/{REPO}.git"
    attrs = payload["object_attributes"]
    assert attrs["note"] == "/agentops implement" and attrs["noteable_type"] == "Issue"
    assert attrs["action"] == "create"
    assert payload["issue"]["iid"] == 1
    assert [n["id"] for n in sim.notes(REPO, "issue", 1)] == [attrs["id"]]
    headers = sim.webhook_headers("Note Hook", "secret")
    assert headers["X-Gitlab-Event"] == "Note Hook" and headers["X-Gitlab-Token"] == "secret"


def test_webhook_note_event_on_merge_request(sim: GitLabSim) -> None:
    payload = sim.webhook_note_event(REPO, "merge_request", 1, "/agentops review", author="alice")
    assert payload["object_attributes"]["noteable_type"] == "MergeRequest"
    mr = payload["merge_request"]
    assert mr["iid"] == 1 and mr["source_branch"] == "feature" and mr["draft"] is True
    assert mr["last_commit"]["id"] == sim.head_sha(REPO, "feature")
    assert "issue" not in payload


def test_webhook_label_events(sim: GitLabSim) -> None:
    issue_hook = sim.webhook_issue_event(
        REPO, 1, "alice", labels_previous=["bug"], labels_current=["bug", "agentops"]
    )
    assert issue_hook["object_kind"] == "issue"
    assert issue_hook["object_attributes"]["iid"] == 1
    assert issue_hook["object_attributes"]["action"] == "update"
    change = issue_hook["changes"]["labels"]
    assert [x["title"] for x in change["previous"]] == ["bug"]
    assert [x["title"] for x in change["current"]] == ["bug", "agentops"]
    assert sim.issues(REPO)[0]["labels"] == ["bug", "agentops"]

    mr_hook = sim.webhook_merge_request_event(
        REPO, 1, "alice", labels_previous=[], labels_current=["agentops:review"]
    )
    assert mr_hook["object_kind"] == "merge_request"
    assert mr_hook["object_attributes"]["source_branch"] == "feature"
    assert [x["title"] for x in mr_hook["changes"]["labels"]["current"]] == ["agentops:review"]
    assert sim.merge_requests(REPO)[0]["labels"] == ["agentops:review"]


def test_webhook_request_is_signed_like_gitlab(sim: GitLabSim) -> None:
    import base64
    import time

    from app.webhooks import verify_gitlab_token, verify_standard_webhook

    key = "whsec_" + base64.b64encode(b"k" * 32).decode()
    payload = sim.webhook_issue_event(REPO, 1, "alice")
    body, headers = sim.webhook_request("Issue Hook", payload, "secret", signing_token=key)
    lowered = {k.lower(): v for k, v in headers.items()}
    verify_gitlab_token("secret", lowered["x-gitlab-token"])
    verify_standard_webhook(key, lowered, body, time.time())
    assert lowered["idempotency-key"] == lowered["webhook-id"]
