"""A repository whose install script tries to reach hosts that are not registries, through
the real web and worker processes: refused by the egress proxy, logged, shown in the
check run; and a second run of the same repository takes its install from the cache."""

from __future__ import annotations

import pytest

from tests.e2e.fixture_repos import fixture_files
from tests.e2e.harness import Service, wait_for
from tests.e2e.implement_script import start_implement
from tests.sim.github_sim import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/hostile-postinstall"


def _check_text(gh: GitHubSim, run_id: int) -> str:
    [check] = [c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id)]
    return str(check["output"]["text"])


def test_an_install_script_reaches_no_other_host_and_the_run_says_so(
    service: Service, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    gh.add_repo(REPO, fixture_files("hostile-postinstall"))
    gh.set_permission(REPO, "alice", "write")
    _number, run_id = start_implement(service, gh, REPO)
    run = wait_for(lambda: service.finished(run_id), 120, what="the first run")
    steps = {s["name"]: s for s in run["steps"]}
    install = steps["install"]
    assert install["status"] == "succeeded", (run["error"], service.logs()[-3000:])
    detail = install["detail"]
    assert detail["installed"] == "npm (package.json, package-lock.json)"
    assert detail["cache"] == "stored"
    assert "collector.evil.test:80 (not an allowed registry)" in detail["refused"]
    assert any(r.startswith("169.254.169.254:80 ") for r in detail["refused"])

    text = _check_text(gh, run_id)
    assert "### Dependencies" in text
    assert "refused by the egress proxy: `collector.evil.test:80 (not an allowed registry)`" in text
    logs = service.logs()
    assert "refused collector.evil.test:80 (not an allowed registry)" in logs
    assert "refused 169.254.169.254:80" in logs
    # the run went on to the model (none is reachable in this module) after the install
    assert "model provider is unavailable" in run["error"].lower() or run["status"] == "failed"

    _again, second = start_implement(service, gh, REPO)
    rerun = wait_for(lambda: service.finished(second), 120, what="the second run")
    cached = {s["name"]: s for s in rerun["steps"]}["install"]["detail"]
    assert cached["cache"] == "hit" and cached["from"] == [] and cached["refused"] == []
    assert "from the cache" in _check_text(gh, second)
