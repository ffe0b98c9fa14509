"""`/agentops implement` on GitHub, end to end: a scripted model, the real sandbox, real git,
and a draft pull request whose new test fails on the base and passes on the head."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import ADMIN_TOKEN, ROOT, Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator

pytestmark = pytest.mark.e2e
REPO = "acme/calc"


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return {
        **script.llm_env(llm[1]),
        "AGENTOPS_HEARTBEAT_SECONDS": "0.5",
        "AGENTOPS_STALE_RUN_SECONDS": "3",
    }


def _git(bare: Any, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=bare, capture_output=True, text=True, check=True
    ).stdout


def test_an_issue_becomes_a_draft_pull_request_with_proven_tests(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "write")
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    script.script_resolution(sim)
    comment_id = gh.add_comment(REPO, number, "/agentops implement", user="alice")
    payload = events.issue_comment(
        REPO,
        gh.installation_id(REPO),
        number,
        "/agentops implement",
        "alice",
        comment_id=comment_id,
    )
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    run_id = int(response.text.split()[-1])

    run = wait_for(lambda: service.finished(run_id), 120, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    pulls = gh.pulls(REPO)
    assert len(pulls) == 1
    pull = pulls[0]
    assert pull["draft"] is True
    branch = pull["head"]["ref"]
    assert branch == f"agentops/{number}-divide-should-refuse-a-zero-divisor"
    assert f"Closes #{number}" in pull["body"]
    assert "test_divide_by_zero_raises" in pull["body"] and "proven" in pull["body"]
    assert pull["title"] == script.COMMIT_MESSAGE.splitlines()[0]

    bare = gh.bare_path(REPO)
    changed = _git(bare, "show", f"{branch}:calc.py")
    assert 'raise ValueError("cannot divide by zero")' in changed
    assert "test_divide_by_zero_raises" in _git(bare, "show", f"{branch}:tests/test_divide.py")
    log = _git(bare, "log", "-1", "--format=%an%n%B", branch)
    assert log.startswith("agentops[bot]\nfix(calc): refuse a zero divisor")
    assert "Co-authored-by: alice <alice@users.noreply.github.com>" in log
    assert _git(bare, "rev-list", "--count", f"main..{branch}").strip() == "1"

    check = next(c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "success"
    text = check["output"]["text"]
    for step in ("clone", "locate", "plan", "implement", "deliver"):
        assert f"[x] {step}" in text
    assert "`calc.py`" in text.split("### Files chosen")[1].split("###")[0]
    assert "### Plan" in text and "### Tests" in text and "### Cost" in text

    bot = [c["body"] for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login]
    assert len(bot) == 1 and "Opened draft pull request" in bot[0]

    coder = sim.requests_for(script.CODER)
    assert len(coder) == 7
    assert "Refused" in str(coder[2].body["messages"][-1])  # the malformed edit went back
    assert "Not finished" in str(coder[5].body["messages"][-1])  # so did the weak test
    first = str(coder[0].body["messages"][0])
    assert '<untrusted-data source="issue #' in first  # the issue is fenced as data ...
    assert script.ISSUE_BODY.split(" in ")[0] in first  # ... and is all there
    context = str(coder[0].body["system"])
    assert '<untrusted-data source="repository code">' in context
    assert "def divide(a, b):" in context  # the code map's context reached the model


def test_replay_reruns_the_run_offline_and_finds_the_same_diff(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    e2e_database_url: str,
    tmp_path: Path,
) -> None:
    gh, _ = github
    sim, _ = llm
    runs = service.api("/api/runs", ADMIN_TOKEN)["runs"]
    run = next(r for r in runs if r["command"] == "implement" and r["status"] == "succeeded")
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", str(gh.bare_path(REPO)), str(clone)], check=True)
    asked_before = len(sim.requests)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
    env |= {"AGENTOPS_DATABASE_URL": e2e_database_url, "AGENTOPS_WORKDIR": str(tmp_path / "work")}
    done = subprocess.run(
        [sys.executable, "-m", "app", "replay", str(run["id"]), "--checkout", str(clone)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # 9 answers: 1 plan, 7 coder turns, 1 commit message (not replayed: replay stops before
    # delivering). Tool results carry test timings, so some requests differ from then.
    assert done.stdout.startswith(
        f"run {run['id']}: plan same, diff same; 9 recorded answers, 1 unused"
    )
    assert len(sim.requests) == asked_before  # no model was asked


def test_a_worker_killed_while_github_makes_its_check_run_leaves_one_check_run(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    repo = "acme/calc-check"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    number = gh.add_issue(repo, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    script.script_direct_resolution(llm[0])
    # GitHub makes the check run, then holds the answer: the worker dies waiting for it.
    gh.fail_next(rf"^POST /repos/{repo}/check-runs$", "hang", retry_after=8, applied=True)
    comment_id = gh.add_comment(repo, number, "/agentops implement", user="alice")
    payload = events.issue_comment(
        repo,
        gh.installation_id(repo),
        number,
        "/agentops implement",
        "alice",
        comment_id=comment_id,
    )
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    run_id = int(response.text.split()[-1])

    wait_for(lambda: gh.check_runs(repo), 60, what="the check run")
    service.worker.stop(signal.SIGKILL)
    service.worker.start()

    run = wait_for(lambda: service.finished(run_id), 120, what="the resumed run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    assert run["attempts"] == 2
    [check] = gh.check_runs(repo)
    assert check["external_id"] == str(run_id) and check["conclusion"] == "success"
    bot = [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]
    assert len(bot) == 1 and "Opened draft pull request" in bot[0]
