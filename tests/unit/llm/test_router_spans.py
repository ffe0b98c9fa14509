"""What a model attempt tells the traces: the same bounded names as the metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app import tracing
from app.config import Settings
from app.metrics import llm as llm_metrics
from app.tracing_sdk import Tracing
from tests.unit.llm.test_router_logic import ASK, OK, ScriptedProvider, make_router


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    sdk = Tracing.__new__(Tracing)  # no OTLP exporter: spans stay in memory
    sdk.provider = TracerProvider()
    sdk.provider.add_span_processor(SimpleSpanProcessor(exporter))
    sdk.tracer = sdk.provider.get_tracer("agentops")
    monkeypatch.setattr(tracing, "_tracing", sdk)
    yield exporter
    sdk.shutdown()


async def test_a_model_the_operator_did_not_configure_is_other_in_the_span(
    spans: InMemorySpanExporter,
) -> None:
    llm_metrics.know_models(Settings(llm_models={"coder": ["anthropic:claude-a"]}))
    chosen_by_a_repository = "anthropic:" + "x" * 5000
    router, _ = make_router([chosen_by_a_repository], ScriptedProvider([OK]))
    await router.complete(ASK)
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["gen_ai.request.model"] == "other"
    assert span.attributes["gen_ai.provider.name"] == "other"  # "scripted" is no provider


async def test_a_configured_model_keeps_its_name_in_the_span(
    spans: InMemorySpanExporter,
) -> None:
    llm_metrics.know_models(Settings(llm_models={"coder": ["anthropic:claude-a"]}))
    provider = ScriptedProvider([OK], name="anthropic")
    router, _ = make_router(["anthropic:claude-a"], provider)
    await router.complete(ASK)
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["gen_ai.request.model"] == "claude-a"
    assert span.attributes["gen_ai.provider.name"] == "anthropic"
    assert span.attributes["agentops.llm.outcome"] == "ok"
