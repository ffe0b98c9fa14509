"""Traces and JSON logs through the real processes: `agentops serve` and `agentops worker`
export spans over OTLP/HTTP to a receiver on loopback that decodes them; one delivery's
plan run is one trace, from the webhook through the run, its steps, its model calls and
its forge calls; nothing secret or from the payload is in what was sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, gitlab_token, running
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, text
from tests.sim.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.sim.serve import serve_app

pytestmark = pytest.mark.e2e
REPO = "acme/traced"
PLAN = "**Change**\n1. `calc.py`: raise ValueError on a zero divisor."


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[OtlpReceiver, str]]:
    sim = OtlpReceiver()
    with serve_app(sim.app) as url:
        yield sim, url


@pytest.fixture(scope="module")
def traced(
    receiver: tuple[OtlpReceiver, str],
    service_env: dict[str, str],
    llm: tuple[LLMSimulator, str],
    workdir: Path,
) -> Iterator[Service]:
    env = service_env | script.llm_env(llm[1])
    env |= {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver[1],
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "AGENTOPS_LOG_FORMAT": "json",
    }
    with running(Service(env, workdir)) as svc:
        yield svc


def _one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def test_one_delivery_is_one_trace_from_the_webhook_to_each_call(
    traced: Service,
    receiver: tuple[OtlpReceiver, str],
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    otlp, _ = receiver
    gh, _ = github
    llm[0].script(script.PLANNER, text(PLAN))
    gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "admin")
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    delivery = str(uuid.uuid4())
    run_id = script.comment_command(traced, gh, REPO, number, "/agentops plan", delivery=delivery)
    run = wait_for(lambda: traced.finished(run_id), 60, what="the plan run to end")
    assert run["status"] == "succeeded", traced.logs()
    steps = [step["name"] for step in run["steps"]]

    def exported() -> list[ReceivedSpan] | None:
        spans = otlp.received()
        names = {s.name for s in spans}
        wanted = {"webhook github", "run plan", *(f"step {name}" for name in steps)}
        return spans if wanted <= names else None

    spans = wait_for(exported, 20, what="the run's spans to be exported")
    webhook = _one(spans, "webhook github")
    run_span = _one(spans, "run plan")
    trace = [s for s in spans if s.trace_id == webhook.trace_id]

    # the web process's span is the root; the worker's run continues its trace
    assert webhook.service == "agentops-web" and webhook.parent_id == ""
    assert run_span.service == "agentops-worker"
    assert run_span.trace_id == webhook.trace_id
    assert run_span.parent_id == webhook.span_id
    for span in (webhook, run_span):
        assert span.attributes["agentops.delivery_id"] == delivery
        assert span.attributes["agentops.run_id"] == run_id
        assert span.attributes["agentops.command"] == "plan"
        assert span.attributes["agentops.forge"] == "github"
    assert webhook.attributes["http.response.status_code"] == 202

    # every step under the run; every model and forge call under a step (or the run)
    by_id = {s.span_id: s for s in trace}
    step_spans = [s for s in trace if s.name.startswith("step ")]
    assert sorted(s.name for s in step_spans) == sorted(f"step {name}" for name in steps)
    assert all(s.parent_id == run_span.span_id for s in step_spans)
    llm_spans = [s for s in trace if s.name.startswith("llm ")]
    forge_spans = [s for s in trace if s.name.startswith("forge ")]
    assert [s.name for s in llm_spans] == ["llm anthropic"]
    answer = llm_spans[0]
    assert by_id[answer.parent_id].name.startswith("step ")
    assert answer.attributes["gen_ai.request.model"] == script.PLANNER
    assert answer.attributes["gen_ai.usage.input_tokens"] > 0
    assert answer.attributes["gen_ai.usage.output_tokens"] > 0
    assert answer.attributes["agentops.llm.outcome"] == "ok"
    assert forge_spans, "no forge call was traced"
    for span in forge_spans:  # an installation token is fetched inside the call needing it
        assert by_id[span.parent_id].name.startswith(("step ", "run ", "forge ")), span
        assert span.attributes["url.template"] in span.name
    names = {s.name for s in forge_spans}
    assert "forge POST /repos/{owner}/{name}/issues/{number}/comments" in names
    assert "forge POST /app/installations/{installation_id}/access_tokens" in names
    # no span of this run's work fell outside its trace
    worker_spans = [s for s in spans if s.service == "agentops-worker"]
    stray = [(s.name, s.parent_id) for s in worker_spans if s.trace_id != webhook.trace_id]
    assert stray == []

    # no secret, token, repository name or issue text in anything sent
    sent = otlp.all_bytes()
    for secret in (
        GITHUB_SECRET,
        ADMIN_TOKEN,
        *(value for key, value in script.llm_env("").items() if key.endswith("_KEY")),
        *gh.tokens_issued,
        REPO,
        script.ISSUE_TITLE,
        script.ISSUE_BODY,
        PLAN,
    ):
        if len(secret) >= 6:
            assert secret.encode() not in sent, secret
    assert gh.tokens_issued
    assert otlp.refused == 0

    # the worker's log lines (AGENTOPS_LOG_FORMAT=json): JSON objects, those of the run's
    # work naming the run, its delivery and tenant, and the step they are in
    records = [json.loads(line) for line in traced.worker.output().splitlines()]
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    in_steps = [r for r in records if r.get("run_id") == run_id and "step" in r]
    assert in_steps, records
    assert all(r["delivery_id"] == delivery and r["tenant_id"] > 0 for r in in_steps)
    assert {r["step"] for r in in_steps} <= set(steps)
    # uvicorn's and arq's loggers go through the same formatter
    web = [json.loads(line) for line in traced.web.output().splitlines() if line.startswith("{")]
    assert any(r["logger"].startswith("uvicorn") for r in web)
    assert any(r["logger"].startswith("arq") for r in records)


GITLAB_PROJECT = "platform/traced-billing"


def test_a_gitlab_run_is_one_trace_with_templated_routes(
    traced: Service, receiver: tuple[OtlpReceiver, str], gitlab: tuple[GitLabSim, str]
) -> None:
    otlp, _ = receiver
    gl, _ = gitlab
    gl.add_user("dana")
    gl.add_project(GITLAB_PROJECT, {"README.md": "# billing\n"})
    gl.set_access(GITLAB_PROJECT, "dana", 30)
    iid = gl.add_issue(GITLAB_PROJECT, "Rounding", "totals round wrongly", author="dana")["iid"]
    payload = gl.webhook_note_event(GITLAB_PROJECT, "issue", iid, "/agentops help", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(GITLAB_PROJECT), uuid=str(uuid.uuid4()))
    accepted = traced.post_gitlab(payload, headers)
    assert accepted.status_code == 202, accepted.text
    run_id = int(accepted.text.split()[-1])
    wait_for(lambda: traced.finished(run_id), 30, what="the help run to end")

    def exported() -> tuple[ReceivedSpan, list[ReceivedSpan]] | None:
        spans = otlp.received()
        runs = [s for s in spans if s.attributes.get("agentops.run_id") == run_id]
        webhook = [s for s in runs if s.name == "webhook gitlab"]
        if not webhook or not any(s.name == "run help" for s in runs):
            return None
        trace = [s for s in spans if s.trace_id == webhook[0].trace_id]
        return webhook[0], trace

    webhook, trace = wait_for(exported, 20, what="the GitLab run's spans")
    run_span = _one(trace, "run help")
    assert run_span.parent_id == webhook.span_id
    assert run_span.attributes["agentops.delivery_id"] == webhook.attributes["agentops.delivery_id"]
    forge_names = {s.name for s in trace if s.name.startswith("forge ")}
    assert "forge POST /projects/{project}/issues/{id}/notes" in forge_names, forge_names
    assert all("{" in name or name.endswith("/user") for name in forge_names), forge_names
    sent = otlp.all_bytes()
    for private in (GITLAB_PROJECT, "platform%2Ftraced-billing", gl.bot_token):
        assert private.encode() not in sent, private
