"""On GitLab, end to end: note hooks become runs answered with notes, emoji and statuses."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.gitlab_sim import GitLabSim

pytestmark = pytest.mark.e2e
PROJECT = "platform/billing"


@pytest.fixture(scope="module")
def gl(gitlab: tuple[GitLabSim, str]) -> GitLabSim:
    sim, _ = gitlab
    sim.add_user("dana")
    sim.add_user("eve")
    sim.add_project(PROJECT, {"README.md": "# billing\n", "billing.py": "RATE = 3\n"})
    sim.set_access(PROJECT, "dana", 30)  # Developer
    sim.set_access(PROJECT, "eve", 20)  # Reporter
    return sim


def _post_note(
    service: Service, gl: GitLabSim, iid: int, body: str, author: str
) -> tuple[Any, dict[str, Any]]:
    payload = gl.webhook_note_event(PROJECT, "issue", iid, body, author)
    headers = gl.webhook_headers("Note Hook", gitlab_token(PROJECT), uuid=str(uuid.uuid4()))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    return service.post_gitlab(payload, headers), payload


def _bot_notes(gl: GitLabSim, iid: int) -> list[str]:
    return [
        n["body"]
        for n in gl.notes(PROJECT, "issue", iid)
        if n["author"]["username"] == "agentops-bot"
    ]


def test_help_on_a_gitlab_issue(service: Service, gl: GitLabSim) -> None:
    iid = gl.add_issue(PROJECT, "Rounding", "totals round wrongly", author="dana")["iid"]
    response, payload = _post_note(service, gl, iid, "/agentops help", "dana")
    assert response.status_code == 202, response.text

    replies = wait_for(lambda: _bot_notes(gl, iid), what="the help note")
    assert len(replies) == 1 and "/agentops implement" in replies[0]
    note_id = payload["object_attributes"]["id"]
    emoji = gl.award_emoji(PROJECT, "issue", iid, note_id=note_id)
    assert [e["name"] for e in emoji] == ["eyes"]


def test_a_reporter_is_refused(service: Service, gl: GitLabSim) -> None:
    iid = gl.add_issue(PROJECT, "Please", "", author="eve")["iid"]
    response, _ = _post_note(service, gl, iid, "/agentops plan", "eve")
    assert response.status_code == 202
    replies = wait_for(lambda: _bot_notes(gl, iid), what="the refusal note")
    assert "only people with write access" in replies[0]


def test_cancel_stops_a_running_run(service: Service, gl: GitLabSim) -> None:
    iid = gl.add_issue(PROJECT, "Add VAT", "add a VAT rate", author="dana")["iid"]
    # The run's progress update after cloning hangs, so the run is mid-flight when cancelled.
    gl.delay("PUT", r"/notes/\d+$", seconds=8, times=1)
    response, _ = _post_note(service, gl, iid, "/agentops implement", "dana")
    run_id = int(response.text.split()[-1])
    wait_for(
        lambda: any(
            s["name"] == "clone" and s["status"] == "succeeded"
            for s in service.run(run_id)["steps"]
        ),
        30,
        what="the clone step",
    )
    assert service.run(run_id)["status"] == "running"

    cancel, _ = _post_note(service, gl, iid, "/agentops cancel", "dana")
    assert cancel.status_code == 202
    run = wait_for(
        lambda: (r := service.run(run_id))["status"] != "running" and r, 20, what="the run to stop"
    )
    assert run["status"] == "cancelled"
    assert wait_for(
        lambda: any(f"Cancelling run {run_id}" in n for n in _bot_notes(gl, iid)),
        what="the cancel reply",
    )
    sha = gl.head_sha(PROJECT, "main")
    assert sha is not None
    states = [s["status"] for s in gl.statuses(PROJECT, sha) if s["name"] == "AgentOps"]
    assert wait_for(
        lambda: (
            [s["status"] for s in gl.statuses(PROJECT, sha) if s["name"] == "AgentOps"][-1:]
            == ["canceled"]
        ),
        what="the commit status to be canceled",
    ), states
