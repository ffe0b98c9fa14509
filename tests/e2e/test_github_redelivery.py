"""GitHub never sends a failed delivery again on its own: what was posted while AgentOps was
down is asked for again when it starts, and every command of it becomes a run."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.sim.github import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/redelivery"


def _all_finished(service: Service) -> bool:
    runs = service.api("/api/runs", ADMIN_TOKEN)["runs"]
    return bool(runs) and all(r["status"] in ("succeeded", "failed") for r in runs)


def _answered(gh: GitHubSim, number: int, repo: str = REPO) -> int:
    return len([c for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login])


def test_commands_posted_while_the_service_was_down_run_once_it_is_back(
    service: Service, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    gh.add_repo(REPO, {"README.md": "hi\n"})
    gh.set_permission(REPO, "alice", "admin")
    gh.hooks.url, gh.hooks.secret = f"{service.url}/webhooks/github", GITHUB_SECRET

    before, payload = events.command_on_new_issue(gh, REPO, "Before the outage")
    gh.deliver("issue_comment", payload)  # arrives: never asked for again
    assert wait_for(lambda: _answered(gh, before), 60, what="the reply before the outage")
    wait_for(lambda: _all_finished(service), 30, what="the run before the outage to end")

    service.stop()
    lost = []
    for n in range(10):
        number, payload = events.command_on_new_issue(gh, REPO, f"During the outage {n}")
        gh.deliver("issue_comment", payload)
        lost.append(number)
    assert all(d.status_code == 0 for d in gh.hooks.deliveries[-10:])  # nobody answered

    started = time.monotonic()
    service.start()
    service.wait_for(
        lambda: all(_answered(gh, number) for number in lost),
        60,
        what="a reply to every command posted while the service was down",
    )
    assert time.monotonic() - started < 60
    assert [_answered(gh, number) for number in lost] == [1] * 10  # each once
    asked = list(gh.hooks.redelivery_requests)
    assert len(asked) == 10  # the lost ones only, each once
    assert _answered(gh, before) == 1

    service.worker.stop()  # a restart does not ask again for what it asked for
    service.worker.start()
    wait_for(lambda: "Starting worker" in service.worker.output(), 30, what="the worker")
    time.sleep(3)
    assert gh.hooks.redelivery_requests == asked


def test_after_a_crash_the_commands_posted_meanwhile_run_at_once(
    service: Service, github: tuple[GitHubSim, str]
) -> None:
    """Killed without a goodbye (SIGKILL, the OOM killer), the worker cannot give back its
    turn to look for lost deliveries; the one started next looks at its start all the same,
    not when the dead one's turn would have ended (4½ minutes)."""
    gh, _ = github
    repo = "acme/crash"
    gh.add_repo(repo, {"README.md": "hi\n"})
    gh.set_permission(repo, "alice", "admin")
    gh.hooks.url, gh.hooks.secret = f"{service.url}/webhooks/github", GITHUB_SECRET
    looked = service.worker.output().count("/app/hook/deliveries")
    service.stop()
    service.start()
    wait_for(
        lambda: service.worker.output().count("/app/hook/deliveries") > looked,
        60,
        what="the worker to look for lost deliveries at its start",
    )

    service.worker.stop(signal.SIGKILL)
    service.web.stop(signal.SIGKILL)
    lost = [events.command_on_new_issue(gh, repo, f"During the crash {n}") for n in range(3)]
    for _, payload in lost:
        gh.deliver("issue_comment", payload)
    service.start()
    service.wait_for(
        lambda: all(_answered(gh, number, repo) for number, _ in lost),
        60,
        what="a reply to every command posted while the service was down",
    )
    assert [_answered(gh, number, repo) for number, _ in lost] == [1, 1, 1]


def test_an_attempt_that_fails_again_is_asked_for_again_once_the_web_is_back(
    service: Service, github: tuple[GitHubSim, str]
) -> None:
    """The web process and the worker stop and start apart: a worker that asks while the
    web process is down gets attempts that fail too, and asks again at a later look."""
    gh, _ = github
    repo = "acme/webdown"
    gh.add_repo(repo, {"README.md": "hi\n"})
    gh.set_permission(repo, "alice", "admin")
    gh.hooks.url, gh.hooks.secret = f"{service.url}/webhooks/github", GITHUB_SECRET

    service.web.stop()  # the worker goes on
    lost = [events.command_on_new_issue(gh, repo, f"While the web is down {n}") for n in range(2)]
    for _, payload in lost:
        gh.deliver("issue_comment", payload)
    asked = len(gh.hooks.redelivery_requests)
    service.worker.stop()
    service.worker.start()  # its look at start asks; the attempts find no web process
    wait_for(
        lambda: len(gh.hooks.redelivery_requests) >= asked + 2,
        60,
        what="the worker to ask for the lost deliveries",
    )
    assert all(d.status_code == 0 for d in gh.hooks.deliveries[-2:])  # failed again

    service.start(worker=False)  # the web is back
    service.worker.stop()
    service.worker.start()  # a later look (every AGENTOPS_GITHUB_REDELIVER_SECONDS)
    service.wait_for(
        lambda: all(_answered(gh, number, repo) for number, _ in lost),
        60,
        what="a reply to every command whose redelivery failed too",
    )
    assert [_answered(gh, number, repo) for number, _ in lost] == [1, 1]
