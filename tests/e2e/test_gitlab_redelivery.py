"""GitLab gives up on a hook's delivery that found AgentOps down: through the simulator's
real project hook (its deliveries over HTTP, its log of events and GitLab's API to resend
one), what was posted while AgentOps was down is resent when its worker starts, and every
command of it becomes a run, once."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.gitlab import GitLabSim

pytestmark = pytest.mark.e2e
PROJECT = "platform/outage"


@pytest.fixture(scope="module")
def extra_env() -> dict[str, str]:
    return {"AGENTOPS_GITLAB_REDELIVER_SECONDS": "300"}  # the default, off in other modules


def _replies(gl: GitLabSim, iid: int) -> int:
    notes = gl.notes(PROJECT, "issue", iid)
    return len([n for n in notes if n["author"]["username"] == "agentops-bot"])


def _command(gl: GitLabSim, title: str) -> tuple[int, list[dict[str, object]]]:
    """A new issue, and `/agentops help` on it delivered through the project's hook."""
    iid = int(gl.add_issue(PROJECT, title, "", author="dana")["iid"])
    payload = gl.webhook_note_event(PROJECT, "issue", iid, "/agentops help", "dana")
    return iid, gl.deliver_hook(PROJECT, "Note Hook", payload)


def test_notes_posted_while_the_service_was_down_run_once_it_is_back(
    service: Service, gitlab: tuple[GitLabSim, str]
) -> None:
    gl, _ = gitlab
    gl.add_user("dana")
    gl.add_project(PROJECT, {"README.md": "hi\n"})  # the bot is Maintainer
    gl.set_access(PROJECT, "dana", 30)
    gl.add_hook(PROJECT, f"{service.url}/webhooks/gitlab", gitlab_token(PROJECT))
    gl.add_hook(PROJECT, "http://127.0.0.1:9/elsewhere", "another service's token")

    before, sent = _command(gl, "Before the outage")
    assert [e["response_status"] for e in sent] == ["202", "internal error"]
    wait_for(lambda: _replies(gl, before), 60, what="the reply before the outage")

    # Someone made the bot Maintainer of a project of theirs whose hook never reached
    # AgentOps: it is not looked at (anyone could make a thousand of them).
    stranger = gl.add_project("stranger/many", {"README.md": "hi\n"}).id
    gl.add_hook("stranger/many", f"{service.url}/webhooks/gitlab", "a token never given")

    service.stop()
    lost = []
    for n in range(3):
        iid, sent = _command(gl, f"During the outage {n}")
        assert sent[0]["response_status"] == "internal error"  # nobody answered
        lost.append(iid)

    service.start()
    service.wait_for(
        lambda: all(_replies(gl, iid) for iid in lost),
        60,
        what="a reply to every note posted while the service was down",
    )
    assert [_replies(gl, iid) for iid in lost] == [1, 1, 1]
    assert _replies(gl, before) == 1
    resent = list(gl.hook_resends)
    assert len(resent) == 3  # the lost ones to AgentOps only, each once
    assert "asked GitLab to send again 3 webhook deliveries" in service.worker.output()
    assert not any(r.path.startswith(f"/projects/{stranger}/hooks") for r in gl.requests)

    service.worker.stop()  # a restart does not ask again for what it asked for
    service.worker.start()
    wait_for(lambda: "Starting worker" in service.worker.output(), 30, what="the worker")
    time.sleep(3)
    assert gl.hook_resends == resent
