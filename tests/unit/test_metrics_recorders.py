"""What each recorder of `app/metrics` counts, under which bounded labels."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import pytest
from prometheus_client import REGISTRY

from app.config import Settings
from app.llm.call_log import CallRecord
from app.llm.errors import BudgetExhausted
from app.llm.types import LLMRequest, Message, Usage
from app.metrics import llm as llm_metrics
from app.metrics.runs import step_label, timed_run, timed_step
from app.metrics.worker_port import metrics_app


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def record(model_id: str, outcome: str = "ok", provider: str = "anthropic") -> CallRecord:
    return CallRecord(
        call_id=uuid.uuid4(),
        attempt=1,
        role="coder",
        provider=provider,
        model_id=model_id,
        outcome=outcome,
        detail="",
        usage=Usage(input_tokens=10, output_tokens=3, cached_tokens=5),
        cost_usd=0.25,
        latency_ms=1200,
        fingerprint="f",
        request=LLMRequest("coder", "s", (Message.user("hi"),)),
        response=None,
    )


def test_only_the_operators_models_are_label_values() -> None:
    settings = Settings(
        llm_models={"coder": ["openai-compatible:local-coder@http://10.0.0.5:8000/v1"]},
        _env_file=None,  # type: ignore[call-arg]
    )
    llm_metrics.know_models(settings)
    assert llm_metrics.model_label("anthropic:claude-sonnet-4-6") == "anthropic:claude-sonnet-4-6"
    # an inline server's address is no part of the label
    assert llm_metrics.model_label("openai-compatible:local-coder@http://10.0.0.5:8000/v1") == (
        "openai-compatible:local-coder"
    )
    assert llm_metrics.model_label("anthropic:named-by-a-repository") == "other"
    assert llm_metrics.model_label('anthropic:x"}\n') == "other"


def test_an_attempt_counts_tokens_cost_and_time_under_bounded_labels() -> None:
    labels = {"provider": "anthropic", "model": "other", "outcome": "made-up-outcome"}
    before_calls = value("agentops_llm_calls_total", **{**labels, "outcome": "other"})
    before_cached = value(
        "agentops_llm_tokens_total", provider="other", model="other", kind="cache_read"
    )
    llm_metrics.observe_attempt(record("anthropic:repo-model", "made-up-outcome"))
    llm_metrics.observe_attempt(record("anthropic:repo-model", provider="no-such-provider"))
    assert value("agentops_llm_calls_total", **{**labels, "outcome": "other"}) == before_calls + 1
    cached = value("agentops_llm_tokens_total", provider="other", model="other", kind="cache_read")
    assert cached == before_cached + 5


def test_budget_refusals_are_counted_and_go_on() -> None:
    before = value("agentops_llm_budget_refusals_total", budget="tenant_month")
    with pytest.raises(BudgetExhausted), llm_metrics.counting_budget_refusals():
        raise BudgetExhausted("monthly tenant", 10, 10, 1, "wait")
    assert value("agentops_llm_budget_refusals_total", budget="tenant_month") == before + 1


class Retry(Exception):
    pass


class Cancelled(Exception):
    pass


def test_a_runs_try_is_timed_with_how_it_ended() -> None:
    def count(status: str) -> float:
        return value("agentops_run_seconds_count", command="implement", status=status)

    before = {s: count(s) for s in ("succeeded", "retried", "interrupted", "other")}
    with timed_run("implement", retried=Retry) as ended:
        ended.status = "succeeded"
    with pytest.raises(Retry), timed_run("implement", retried=Retry):
        raise Retry
    with pytest.raises(RuntimeError), timed_run("implement", retried=Retry):
        raise RuntimeError
    with timed_run("implement", retried=Retry) as ended:
        ended.status = "missing"
    for status in before:
        assert count(status) == before[status] + 1, status
    with timed_run("not-a-command", retried=Retry) as ended:
        ended.status = "succeeded"
    assert value("agentops_run_seconds_count", command="other", status="succeeded") >= 1


def test_a_step_is_timed_with_its_outcome() -> None:
    def count(outcome: str) -> float:
        return value("agentops_step_seconds_count", step="plan", outcome=outcome)

    before = {o: count(o) for o in ("succeeded", "failed", "cancelled")}
    with timed_step("plan", cancelled=Cancelled):
        pass
    with pytest.raises(ValueError), timed_step("plan", cancelled=Cancelled):
        raise ValueError
    with pytest.raises(Cancelled), timed_step("plan", cancelled=Cancelled):
        raise Cancelled
    for outcome in before:
        assert count(outcome) == before[outcome] + 1
    assert (step_label("reply:wrong-target"), step_label("evil-step")) == ("reply", "other")


def _get(token: str, path: str = "/metrics", given: str | None = None) -> tuple[str, bytes]:
    environ = {"PATH_INFO": path}
    if given is not None:
        environ["HTTP_AUTHORIZATION"] = given
    answer: list[str] = []
    body: Iterable[bytes] = metrics_app(token)(
        environ, lambda status, headers: answer.append(status)
    )
    return answer[0], b"".join(body)


def test_the_worker_port_wants_the_metrics_token_when_one_is_set() -> None:
    assert _get("")[0] == "200 OK"
    assert _get("secret-token")[0].startswith("401")
    assert _get("secret-token", given="Bearer wrong")[0].startswith("401")
    status, body = _get("secret-token", given="Bearer secret-token")
    assert status == "200 OK" and b"agentops_llm_calls_total" in body
    assert _get("", "/other")[0].startswith("404")
