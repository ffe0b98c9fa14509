"""The proof's other outcomes through the real web and worker processes (GitHub), with the
operator's default `AGENTOPS_UNPROVEN_DELIVERY=none`:

- a change that proves its new test but breaks an existing one goes back to the model,
  which repairs it; the pull request lists the regressions checked;
- a change whose new test needs the network is not delivered, and the issue says why and
  what the operator can set;
- a test runner that is not in the sandbox stops the run with that message; the model is
  never asked to fix it.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e import implement_script as script
from tests.e2e import proof_scripts as proofs
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text, tool_call

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


def _bot_comments(gh: GitHubSim, repo: str, number: int) -> str:
    return "\n".join(c["body"] for c in gh.comments(repo, number) if c["user"]["type"] == "Bot")


def test_a_regression_goes_back_to_the_model_and_is_listed(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc-regression"
    proofs.script_regression(sim)
    asked = len(sim.requests_for(script.CODER))
    _number, run_id, run = proofs.implement_on(
        service, gh, repo, proofs.CALC_FILES, "Add mul(a, b)."
    )
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    # the first finish was answered with the broken test, by name, and not accepted
    coder = sim.requests_for(script.CODER)[asked:]
    told = str(coder[2].body["messages"][-1])
    assert "breaks tests that passed before it" in told
    assert "tests/test_calc.py::test_sub" in told
    [pull] = gh.pulls(repo)
    assert "**Regressions**" in pull["body"]
    assert "every test that passed before the change still passes" in pull["body"]
    calc = subprocess.run(
        ["git", "show", f"{pull['head']['ref']}:calc.py"],
        cwd=gh.bare_path(repo),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "return a - b" in calc and "return a * b" in calc
    assert gh.check_run_of(repo, run_id)["conclusion"] == "success"


def test_an_unprovable_change_is_not_delivered_by_default(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/feed-offline"
    proofs.script_fetching(sim)
    number, run_id, run = proofs.implement_on(
        service, gh, repo, proofs.FETCH_FILES, proofs.FETCH_ISSUE
    )
    assert run["status"] == "failed"
    assert "not delivered" in run["error"], (run["error"], service.logs()[-3000:])

    assert gh.pulls(repo) == []
    said = _bot_comments(gh, repo, number)
    assert "not delivered" in said
    assert "needs the network" in said
    assert "AGENTOPS_UNPROVEN_DELIVERY=draft" in said
    check = gh.check_run_of(repo, run_id)
    assert check["conclusion"] == "failure"
    assert "needs the network" in check["output"]["summary"] + check["output"]["text"]


def test_a_missing_test_runner_stops_the_run_and_says_so(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc-no-runner"
    gh.add_repo(repo, {**proofs.CALC_FILES, ".agentops.yml": "test: python -m nosuchrunner\n"})
    gh.set_permission(repo, "alice", "write")
    sim.script(script.PLANNER, text("**Change**\nAdd mul().\n\n**Tests**\n- test_mul"))
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": proofs.BREAKING}),
        tool_call("run_tests", {"test_ids": [proofs.MUL_TEST]}),
        tool_call("finish", {"summary": "never reached", "tests": [proofs.MUL_TEST]}),
    )
    asked = len(sim.requests_for(script.CODER))
    _number, run_id = script.start_implement(service, gh, repo, body="Add mul(a, b).")
    run = wait_for(lambda: service.finished(run_id), 180, what="the implement run")
    assert run["status"] == "failed"

    # the model's run_tests stopped the run: it was never asked about the result
    assert len(sim.requests_for(script.CODER)) - asked == 2
    check = gh.check_run_of(repo, run_id)
    assert check["conclusion"] == "failure"
    said = check["output"]["summary"] + check["output"]["text"]
    assert "The tests cannot run in the sandbox" in said
    assert "No module named nosuchrunner" in said
    assert "`test:`" in said
    assert gh.pulls(repo) == []
