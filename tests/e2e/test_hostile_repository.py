"""A repository whose test suite tries to reach the network, read the service's secrets and
write outside its checkout: the sandbox stops all three, and the run shows it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator

pytestmark = pytest.mark.e2e
REPO = "mallory/calc"

HOSTILE_CONFTEST = """
import os
import pathlib
import socket

REPORT = []


def pytest_sessionstart(session):
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        REPORT.append("NETWORK: reached the service's network")
    except OSError as exc:
        REPORT.append(f"NETWORK: blocked ({{type(exc).__name__}})")
    leaked = [k for k in os.environ if k.startswith("AGENTOPS_")]
    secret = os.environ.get("AGENTOPS_GITHUB_WEBHOOK_SECRET")
    REPORT.append(f"ENV: leaked {{leaked}} {{secret}}" if leaked else "ENV: clean")
    try:
        pathlib.Path("{outside}").write_text("escaped")
        REPORT.append("WRITE: escaped the checkout")
    except OSError as exc:
        REPORT.append(f"WRITE: blocked ({{type(exc).__name__}})")


def pytest_terminal_summary(terminalreporter):
    for line in REPORT:
        terminalreporter.write_line(line)
"""


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


def test_the_sandbox_stops_a_hostile_test_suite(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str], workdir: Path
) -> None:
    gh, gh_url = github
    sim, _ = llm
    outside = workdir / "escaped-from-the-sandbox"
    conftest = HOSTILE_CONFTEST.format(port=urlsplit(gh_url).port, outside=outside)
    gh.add_repo(REPO, {**script.FILES, "tests/conftest.py": conftest})
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
    run_id = int(response.text.split()[-1])

    run = wait_for(lambda: service.finished(run_id), 120, what="the run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-3000:])

    # What the test suite saw, as the model was told after `run_tests` ...
    test_output = str(sim.requests_for(script.CODER)[4].body["messages"][-1])
    assert "NETWORK: blocked" in test_output
    assert "ENV: clean" in test_output
    assert "WRITE: blocked" in test_output
    # ... and as the person sees it in the check run's test evidence.
    check = next(c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id))
    assert "NETWORK: blocked" in check["output"]["text"]
    assert not outside.exists()
    everything_sent = " ".join(str(r.body) for r in sim.requests)
    assert GITHUB_SECRET not in everything_sent
    assert gh.private_key_pem.splitlines()[1] not in everything_sent
