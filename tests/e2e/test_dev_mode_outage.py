"""`agentops dev` (what `make run` starts) through a Redis outage: its in-process worker
waits and carries on, and `/readyz` says when it is not taking work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET, running
from tests.e2e.harness import RedisServer, Service, wait_for
from tests.sim.github import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/dev-outage"


@pytest.fixture(scope="module")
def dev(service_env: dict[str, str], workdir: Path) -> Iterator[Service]:
    with running(Service(service_env, workdir, dev=True)) as svc:
        yield svc


def _ready(dev: Service) -> tuple[int, dict[str, str]]:
    answer = httpx.get(f"{dev.url}/readyz", timeout=10)
    return answer.status_code, answer.json()


def test_dev_mode_waits_out_a_redis_outage_and_readyz_tells(
    dev: Service, redis_server: RedisServer, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    gh.add_repo(REPO, {"README.md": "hi\n"})
    gh.set_permission(REPO, "alice", "admin")
    status, body = wait_for(
        lambda: r if (r := _ready(dev))[0] == 200 else None,
        30,
        what="the in-process worker to consume",
    )
    assert body == {"database": "ok", "redis": "ok", "worker": "consuming"}

    redis_server.kill()
    try:
        time.sleep(3)
        status, body = _ready(dev)
        assert status == 503 and body["redis"] == "unreachable"
        assert body["worker"] == "not consuming"
        number, payload = events.command_on_new_issue(gh, REPO, "During the outage")
        accepted = dev.post_github("issue_comment", payload, GITHUB_SECRET)
        assert accepted.status_code == 202, accepted.text
    finally:
        redis_server.start()

    wait_for(lambda: _ready(dev)[0] == 200, 30, what="readyz once Redis is back")
    replies = wait_for(
        lambda: [c for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login],
        60,
        what="the help reply to the command accepted during the outage",
    )
    assert len(replies) == 1
    log = dev.web.output()
    assert (
        log.count("jobs.resilient: Redis unreachable") == 1
        and log.count("jobs.resilient: Redis is back") == 1
    ), log[-3000:]
    assert dev.web.process is not None and dev.web.process.poll() is None
