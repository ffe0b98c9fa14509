"""Without `OTEL_EXPORTER_OTLP_ENDPOINT`, tracing costs nothing: neither `agentops serve`
nor `agentops worker` imports the OpenTelemetry SDK or exporter (so nothing can be sent),
through a whole delivery and plan run; logs stay text by default."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import running
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text

pytestmark = pytest.mark.e2e
REPO = "acme/untraced"
# `python -X importtime` (PYTHONPROFILEIMPORTTIME): one line per module imported
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| (\s*)(\S+)$", re.M)


@pytest.fixture(scope="module")
def untraced(
    service_env: dict[str, str], llm: tuple[LLMSimulator, str], workdir: Path
) -> Iterator[Service]:
    env = {key: value for key, value in service_env.items() if not key.startswith("OTEL_")}
    env |= script.llm_env(llm[1])
    env |= {"PYTHONPROFILEIMPORTTIME": "1", "OTEL_SERVICE_NAME": "set-but-no-endpoint"}
    with running(Service(env, workdir)) as svc:
        yield svc


def _imported(log: str) -> set[str]:
    return {match.group(2) for match in IMPORTED.finditer(log)}


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(
    untraced: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: raise."))
    gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "admin")
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    run_id = script.comment_command(untraced, gh, REPO, number, "/agentops plan")
    run = wait_for(lambda: untraced.finished(run_id), 60, what="the plan run to end")
    assert run["status"] == "succeeded", untraced.logs()

    for process in (untraced.web, untraced.worker):
        imported = _imported(process.output())
        assert "app.webhook_endpoints" in imported or "jobs.workflows" in imported
        assert "app.tracing" in imported
        # (the API alone may be: the anthropic SDK imports it for tracing of its own, which
        # stays a no-op since no global tracer provider is ever set)
        sdk = {m for m in imported if m.startswith(("opentelemetry.sdk", "opentelemetry.exp"))}
        assert not sdk, process.args
        assert "app.tracing_sdk" not in imported
    worker_lines = [
        line for line in untraced.worker.output().splitlines() if " INFO jobs.worker: " in line
    ]
    assert worker_lines and not worker_lines[0].startswith("{")
