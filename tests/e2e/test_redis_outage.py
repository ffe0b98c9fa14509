"""Redis down during intake: the run is accepted, and executed once Redis is back."""

from __future__ import annotations

import time

import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import RedisServer, Service, wait_for
from tests.sim.github import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/outage"
CRASHED = "acme/outage-crash"


def test_a_run_accepted_while_redis_is_down_runs_when_it_is_back(
    service: Service, redis_server: RedisServer, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    gh.add_repo(REPO, {"README.md": "hi\n"})
    gh.set_permission(REPO, "alice", "admin")
    number = gh.add_issue(REPO, "Outage", "", user="alice")
    comment_id = gh.add_comment(REPO, number, "/agentops help", user="alice")
    payload = events.issue_comment(
        REPO, gh.installation_id(REPO), number, "/agentops help", "alice", comment_id=comment_id
    )

    redis_server.stop()
    try:
        response = service.post_github("issue_comment", payload, GITHUB_SECRET)
        assert response.status_code == 202, response.text
        run_id = int(response.text.split()[-1])
        run = service.run(run_id)
        assert run["status"] == "queued"
        ready = service.api_status("/readyz")
        assert ready == 503
    finally:
        redis_server.start()

    replies = wait_for(
        lambda: [c for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login],
        60,
        what="the help reply after Redis came back",
    )
    assert len(replies) == 1
    run = wait_for(lambda: service.finished(run_id), 20, what="the run to finish")
    assert run["status"] == "succeeded"
    assert run["attempts"] == 1


def _help_run(gh: GitHubSim, service: Service, title: str) -> tuple[int, int]:
    """Post `/agentops help` on a new issue; (issue number, run id)."""
    number, payload = events.command_on_new_issue(gh, CRASHED, title)
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    return number, int(response.text.split()[-1])


def _replied(gh: GitHubSim, number: int) -> list[dict[str, object]]:
    return [c for c in gh.comments(CRASHED, number) if c["user"]["login"] == gh.bot_login]


def test_the_worker_outlives_a_redis_crash_and_carries_on(
    service: Service, redis_server: RedisServer, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    gh.add_repo(CRASHED, {"README.md": "hi\n"})
    gh.set_permission(CRASHED, "alice", "admin")
    wait_for(lambda: "Starting worker" in service.worker.output(), 30, what="the worker")

    redis_server.kill()
    time.sleep(4)  # several polls fail meanwhile
    redis_server.start()
    number, run_id = _help_run(gh, service, "After the crash")

    assert wait_for(lambda: _replied(gh, number), 60, what="the reply after Redis came back")
    assert wait_for(lambda: service.finished(run_id), 20, what="the run")["status"] == "succeeded"
    assert service.worker.process is not None and service.worker.process.poll() is None
    log = service.worker.output()
    assert log.count("jobs.resilient: Redis unreachable") == 1, log[-3000:]
    assert log.count("jobs.resilient: Redis is back") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_a_worker_started_while_redis_is_down_says_so_once_and_starts_when_it_is_up(
    service: Service, redis_server: RedisServer
) -> None:
    worker = service.worker
    worker.stop()
    redis_server.stop()
    try:
        worker.start()
        wait_for(
            lambda: "Redis unreachable at start" in worker.output(), 60, what="the worker's line"
        )
        time.sleep(12)  # two more tries
        log = worker.output()
        assert log.count("Redis unreachable at start") == 1
        assert "retries remaining" not in log
        assert worker.process is not None and worker.process.poll() is None
    finally:
        redis_server.start()
    wait_for(lambda: "Redis is up after" in worker.output(), 30, what="the worker to connect")
