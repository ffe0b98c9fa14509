"""A repository whose test suite sets off a fork bomb and a memory hog while another
repository's run proves its tests in the same worker at the same time: the hostile run
is held to its own limits and says so, the other run succeeds with its proof, and the
limits the hostile `.agentops.yml` asked for are capped by the operator's settings."""

from __future__ import annotations

import json
import os

import pytest

from app.sandbox.cgroups import cgroup_support
from tests.e2e import implement_script as script
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text, tool_call

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or cgroup_support().version is None,
        reason=f"needs root and cgroups: {cgroup_support().describe()}",
    ),
]
HOSTILE, CALM = "mallory/bomb", "acme/calm"
HOSTILE_PLANNER, HOSTILE_CODER = "hostile-planner", "hostile-coder"

# Four seconds of fork bomb in a child (each process far below RLIMIT_NPROC's reach
# of the whole machine), then 1 GiB in one process (far below RLIMIT_AS): only limits on
# the test command as a whole stop them.
HOSTILE_CONFTEST = """
import os
import time


def _bomb(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)
    os._exit(0)


def pytest_sessionstart(session):
    child = os.fork()
    if child == 0:
        _bomb(4)
    os.waitpid(child, 0)
    hoard = bytearray(1024 * 1024 * 1024)
    assert hoard
"""
HOSTILE_CONFIG = {
    "models": {
        "planner": f"anthropic:{HOSTILE_PLANNER}",
        "coder": f"anthropic:{HOSTILE_CODER}",
        "reviewer": f"anthropic:{HOSTILE_PLANNER}",
    },
    "limits": {"test_timeout_seconds": 3600},
}


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return {
        **script.llm_env(llm[1]),
        "AGENTOPS_SANDBOX_MEMORY_MB": "384",
        "AGENTOPS_SANDBOX_PROCESSES": "64",
        "AGENTOPS_SANDBOX_CPUS": "1",
        "AGENTOPS_SANDBOX_DISK_MB": "64",
        "AGENTOPS_MAX_TEST_TIMEOUT_SECONDS": "90",
    }


def _script_hostile(sim: LLMSimulator) -> None:
    sim.script(HOSTILE_PLANNER, text("**Change**\n1. `calc.py`: refuse zero.\n"))
    sim.script(
        HOSTILE_CODER,
        tool_call("apply_edits", {"edits": script.CHANGE}),
        tool_call("run_tests", {}),
        tool_call(
            "finish",
            {"summary": "done", "tests": ["tests/test_divide.py::test_divide_works"]},
        ),
    )


def test_a_fork_bomb_and_a_memory_hog_leave_another_runs_proof_alone(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    config = json.dumps(HOSTILE_CONFIG)  # JSON is YAML
    gh.add_repo(
        HOSTILE, {**script.FILES, "tests/conftest.py": HOSTILE_CONFTEST, ".agentops.yml": config}
    )
    gh.add_repo(CALM, script.FILES)
    for repo in (HOSTILE, CALM):
        gh.set_permission(repo, "alice", "write")
    _script_hostile(sim)
    script.script_resolution(sim)

    _, hostile_id = script.start_implement(service, gh, HOSTILE)
    _, calm_id = script.start_implement(service, gh, CALM)
    calm = wait_for(lambda: service.finished(calm_id), 180, what="the calm run")
    hostile = wait_for(lambda: service.finished(hostile_id), 180, what="the hostile run")

    # The other run proved its test as if nothing had happened ...
    assert calm["status"] == "succeeded", (calm["error"], service.logs()[-4000:])
    [pull] = gh.pulls(CALM)
    assert "test_divide_by_zero_raises" in pull["body"] and "proven" in pull["body"]
    assert gh.check_run_of(CALM, calm_id)["conclusion"] == "success"

    # ... while the hostile run failed, saying which limits its tests hit.
    assert hostile["status"] == "failed", service.logs()[-4000:]
    told_the_model = str(sim.requests_for(HOSTILE_CODER)[2].body["messages"][-1])
    assert "killed: out of memory" in told_the_model, told_the_model[-2000:]
    check = gh.check_run_of(HOSTILE, hostile_id)
    assert check["conclusion"] == "failure"
    shown = check["output"]["summary"] + check["output"]["text"]
    assert "killed: out of memory" in shown
    assert "processes" in shown.split("killed: out of memory", 1)[1]
    assert "`limits.test_timeout_seconds: 3600` in .agentops.yml" in shown
    assert "90 is used" in shown

    worker_log = service.worker.output()
    assert "test isolation: bwrap as root" in worker_log
    assert "each test command as a whole gets memory 384 MiB, 64 processes" in worker_log
