"""The prepare phase through the real web and worker processes: an install script that
tries to reach hosts that are not registries is refused, logged and shown in the check
run, and a second run of the same repository takes its install from the cache; an
install that fails stops the run before any model call, with the installer's words."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.fixture_repos import fixture_files
from tests.e2e.harness import Service, wait_for
from tests.e2e.implement_script import llm_env, script_resolution, start_implement
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator

pytestmark = pytest.mark.e2e
REPO = "acme/hostile-postinstall"


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return llm_env(llm[1])


def _check(gh: GitHubSim, repo: str, run_id: int) -> dict[str, Any]:
    [check] = [c for c in gh.check_runs(repo) if c["external_id"] == str(run_id)]
    return check


def _check_text(gh: GitHubSim, run_id: int) -> str:
    return str(_check(gh, REPO, run_id)["output"]["text"])


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
    # the install script's two connections race: either may be refused first
    refused_line = next(line for line in text.splitlines() if "refused by the egress proxy" in line)
    assert "`collector.evil.test:80 (not an allowed registry)`" in refused_line
    assert "`169.254.169.254:80 " in refused_line
    logs = service.logs()
    assert "refused collector.evil.test:80 (not an allowed registry)" in logs
    assert "refused 169.254.169.254:80" in logs
    # the install did not stop the run: it went on to locate the files and plan
    assert steps["locate"]["status"] == "succeeded"

    _again, second = start_implement(service, gh, REPO)
    rerun = wait_for(lambda: service.finished(second), 120, what="the second run")
    cached = {s["name"]: s for s in rerun["steps"]}["install"]["detail"]
    assert cached["cache"] == "hit" and cached["from"] == [] and cached["refused"] == []
    assert "from the cache" in _check_text(gh, second)


def test_an_install_that_fails_stops_the_run_before_any_model_call(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/unresolvable"
    files = {
        "requirements.txt": "agentops-no-such-package-anywhere==9.9.9\n",
        "calc.py": "def add(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    add(1, 2)\n",
        "pytest.ini": "[pytest]\npythonpath = .\n",
    }
    gh.add_repo(repo, files)
    gh.set_permission(repo, "alice", "write")
    script_resolution(sim)
    asked_before = len(sim.requests)
    _number, run_id = start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 180, what="the run")
    assert run["status"] == "failed"
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["install"]["status"] == "failed"
    assert "plan" not in steps and len(sim.requests) == asked_before  # nothing was paid for
    summary = _check(gh, repo, run_id)["output"]["summary"]
    assert "dependencies could not be installed" in summary, summary
    assert "`python pip install` failed (exit 1)" in summary
    assert "agentops-no-such-package-anywhere" in summary  # the installer's own words
