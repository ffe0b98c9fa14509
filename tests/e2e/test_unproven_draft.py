"""`AGENTOPS_UNPROVEN_DELIVERY=draft`: a change whose new test needs the network is
delivered as a draft marked unproven, with the evidence, on GitHub (a draft pull request,
a neutral check run) and on GitLab (a draft merge request and the progress note)."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e import implement_script as script
from tests.e2e import proof_scripts as proofs
from tests.e2e.conftest import gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return {**script.llm_env(llm[1]), "AGENTOPS_UNPROVEN_DELIVERY": "draft"}


def test_github_gets_a_draft_marked_unproven(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    repo = "acme/feed"
    proofs.script_fetching(llm[0])
    number, run_id, run = proofs.implement_on(
        service, gh, repo, proofs.FETCH_FILES, proofs.FETCH_ISSUE
    )
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    [pull] = gh.pulls(repo)
    assert pull["draft"] is True
    assert pull["title"].startswith("Unproven: ")
    assert "**Unproven.**" in pull["body"]
    assert "needs the network" in pull["body"] and "gaierror" in pull["body"]
    assert f"| `{proofs.FETCH_TEST}` | unprovable |" in pull["body"]
    check = gh.check_run_of(repo, run_id)
    assert check["conclusion"] == "neutral"
    assert check["output"]["title"] == "Delivered, unproven"
    said = [c["body"] for c in gh.comments(repo, number) if c["user"]["type"] == "Bot"]
    assert any("**Unproven**" in c and pull["html_url"] in c for c in said)


def test_gitlab_gets_a_draft_merge_request_marked_unproven(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    project = "news/feed"
    gl.add_user("dana") if "dana" not in gl.users else None
    gl.add_project(project, proofs.FETCH_FILES)
    gl.set_access(project, "dana", 30)
    proofs.script_fetching(llm[0])
    iid = gl.add_issue(project, "fetch_title", proofs.FETCH_ISSUE, author="dana")["iid"]
    payload = gl.webhook_note_event(project, "issue", iid, "/agentops implement", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(project))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    response = service.post_gitlab(payload, headers)
    assert response.status_code == 202, response.text
    run_id = int(response.text.split()[-1])
    run = wait_for(lambda: service.finished(run_id), 180, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    [mr] = gl.merge_requests(project)
    assert mr["title"].startswith("Draft: Unproven: ")
    assert "**Unproven.**" in mr["description"] and "needs the network" in mr["description"]
    notes = [n["body"] for n in gl.notes(project, "issue", iid)]
    assert any("**Unproven**" in n for n in notes)
    assert any("Delivered, unproven" in n for n in notes)
