"""`/agentops implement` on GitLab: a merge request, a commit status and notes; and a
worker killed with SIGKILL in the middle of delivering, whose run another worker finishes
with exactly one branch, one commit and one merge request."""

from __future__ import annotations

import signal
import subprocess
import uuid

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return {
        **script.llm_env(llm[1]),
        "AGENTOPS_HEARTBEAT_SECONDS": "0.5",
        "AGENTOPS_STALE_RUN_SECONDS": "3",
    }


def _start(service: Service, gl: GitLabSim, project: str) -> tuple[int, int]:
    gl.add_user("dana") if "dana" not in gl.users else None
    gl.add_project(project, script.FILES)
    gl.set_access(project, "dana", 30)
    iid = gl.add_issue(project, script.ISSUE_TITLE, script.ISSUE_BODY, author="dana")["iid"]
    payload = gl.webhook_note_event(project, "issue", iid, "/agentops implement", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(project))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    response = service.post_gitlab(payload, headers)
    assert response.status_code == 202, response.text
    return iid, int(response.text.split()[-1])


def _branches(gl: GitLabSim, project: str) -> list[str]:
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        cwd=gl.project(project).bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def test_an_issue_becomes_a_merge_request(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    project = "shop/calc"
    script.script_resolution(llm[0])
    iid, run_id = _start(service, gl, project)

    run = wait_for(lambda: service.finished(run_id), 120, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    requests = gl.merge_requests(project)
    assert len(requests) == 1
    mr = requests[0]
    assert mr["title"].startswith("Draft: fix(calc): refuse a zero divisor")
    assert f"Closes #{iid}" in mr["description"]
    assert mr["source_branch"] == f"agentops/{iid}-divide-should-refuse-a-zero-divisor"
    sha = gl.head_sha(project, "main")
    assert sha is not None
    assert [s["status"] for s in gl.statuses(project, sha)][-1] == "success"
    notes = [
        n["body"]
        for n in gl.notes(project, "issue", iid)
        if n["author"]["username"] == "agentops-bot"
    ]
    progress = [n for n in notes if "[x] deliver" in n]
    assert len(progress) == 1  # one progress note, updated in place
    assert any("Opened draft merge request" in n for n in notes)


def test_a_worker_killed_while_delivering_leaves_one_branch_commit_and_mr(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    project = "shop/calc-kill"
    script.script_direct_resolution(llm[0])
    gl.delay("POST", r"/merge_requests$", seconds=6, times=1)
    iid, run_id = _start(service, gl, project)
    branch = f"agentops/{iid}-divide-should-refuse-a-zero-divisor"

    wait_for(lambda: branch in _branches(gl, project), 120, what="the push of the branch")
    service.worker.stop(signal.SIGKILL)  # mid-delivery: pushed, merge request pending
    assert service.run(run_id)["status"] == "running"
    service.worker.start()

    run = wait_for(lambda: service.finished(run_id), 90, what="the resumed run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert run["attempts"] == 2
    assert [b for b in _branches(gl, project) if b.startswith("agentops/")] == [branch]
    bare = gl.project(project).bare
    count = subprocess.run(
        ["git", "rev-list", "--count", f"main..{branch}"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert count == "1"
    wait_for(lambda: len(gl.merge_requests(project)) >= 1, 10, what="the merge request")
    assert len(gl.merge_requests(project)) == 1
    finals = [n for n in gl.notes(project, "issue", iid) if "Opened draft" in n["body"]]
    assert len(finals) == 1


def test_a_worker_killed_after_posting_its_result_leaves_one_result_note(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    project = "shop/calc-reply"
    script.script_direct_resolution(llm[0])
    # GitLab writes the result note, then holds the answer: the worker dies waiting for it,
    # so the step that posted it never finished.
    gl.delay("POST", r"/issues/\d+/notes$", seconds=8, applied=True, body_contains="Opened draft")
    iid, run_id = _start(service, gl, project)

    def results() -> list[str]:
        return [n["body"] for n in gl.notes(project, "issue", iid) if "Opened draft" in n["body"]]

    wait_for(results, 120, what="the result note")
    service.worker.stop(signal.SIGKILL)
    assert service.run(run_id)["status"] == "running"
    service.worker.start()

    run = wait_for(lambda: service.finished(run_id), 90, what="the resumed run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert run["attempts"] == 2
    assert len(results()) == 1
    progress = [n for n in gl.notes(project, "issue", iid) if "[x] deliver" in n["body"]]
    assert len(progress) == 1
    assert len(gl.merge_requests(project)) == 1
