"""`agentops serve --workers N`: several intake processes on one port, each taking any
delivery, with the same logging (and redaction) as one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET, forge_env
from tests.e2e.harness import RedisServer, Service, ServiceProcess, base_env, wait_for
from tests.sim.github_sim import GitHubSim
from tests.sim.gitlab_sim import GitLabSim

pytestmark = pytest.mark.e2e
REPO = "acme/workers"


@pytest.fixture(scope="module")
def two_intakes(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    workdir: Path,
) -> Iterator[Service]:
    env = base_env(e2e_database_url, redis_server.url, workdir) | forge_env(*github, *gitlab)
    svc = Service(env, workdir)
    svc.web = ServiceProcess(
        ["serve", "--port", str(svc.port), "--workers", "2"], svc.env, workdir / "web.log"
    )
    svc.start()
    yield svc
    svc.stop()


def test_two_intake_processes_share_the_port_and_every_delivery_becomes_a_run(
    two_intakes: Service, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    gh.add_repo(REPO, {"README.md": "hi\n"})
    gh.set_permission(REPO, "alice", "admin")
    started = wait_for(
        lambda: (
            set(re.findall(r"Started server process \[(\d+)\]", two_intakes.web.output()))
            if two_intakes.web.output().count("Application startup complete") >= 2
            else None
        ),
        30,
        what="both intake processes",
    )
    assert len(started) == 2

    def command(n: int) -> int:
        _, payload = events.command_on_new_issue(gh, REPO, f"Issue {n}")
        answer = two_intakes.post_github("issue_comment", payload, GITHUB_SECRET)
        assert answer.status_code == 202, answer.text
        return int(answer.text.split()[-1])

    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(command, range(16)))
    assert len(set(run_ids)) == 16
    for run_id in run_ids:
        run = wait_for(partial(two_intakes.finished, run_id), 60, what=f"run {run_id}")
        assert run["status"] == "succeeded"
    assert "Traceback" not in two_intakes.web.output()
