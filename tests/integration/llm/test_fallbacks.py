"""Retries, fallbacks and configuration errors, through the real SDKs against the simulator."""

from __future__ import annotations

import time

import pytest

from app.llm import (
    AllModelsFailed,
    ContextTooLong,
    LLMRequest,
    MemoryCallLog,
    Message,
    ProviderConfigError,
    build_router,
)
from app.llm.router import LLMRouter
from tests.integration.llm.conftest import ANTHROPIC_KEY, OPENAI_KEY, sim_settings
from tests.sim.llm_sim import (
    LLMSimulator,
    context_too_long,
    fault,
    overloaded,
    slow,
    text,
)

ASK = LLMRequest("coder", "You write code.", (Message.user("Say hello."),), max_tokens=64)


def outcomes(completion_or_error: object) -> list[tuple[str, str]]:
    attempts = getattr(completion_or_error, "attempts", ())
    return [(a.model_id, a.outcome) for a in attempts]


async def test_a_429_is_retried_after_the_retry_after_delay(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed
    sim.script("claude-a", fault(429, retry_after=0.2), text("hello"))
    started = time.monotonic()
    completion = await router.complete(ASK)
    assert time.monotonic() - started >= 0.2
    assert completion.text == "hello"
    assert completion.model_id == "anthropic:claude-a"
    assert outcomes(completion) == [
        ("anthropic:claude-a", "rate_limited"),
        ("anthropic:claude-a", "ok"),
    ]


async def test_overload_and_5xx_are_retried_then_the_next_model_answers(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed
    sim.script("claude-a", overloaded(), fault(500), overloaded())
    sim.script("gpt-a", text("hello from the fallback"))
    completion = await router.complete(ASK)
    assert completion.text == "hello from the fallback"
    assert (completion.provider, completion.model_id) == ("openai", "openai:gpt-a")
    assert outcomes(completion) == [
        ("anthropic:claude-a", "overloaded"),
        ("anthropic:claude-a", "server"),
        ("anthropic:claude-a", "overloaded"),
        ("openai:gpt-a", "ok"),
    ]


async def test_a_retry_after_longer_than_the_bound_goes_to_the_next_model_at_once(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed
    sim.script("claude-a", fault(429, retry_after=60))
    sim.script("gpt-a", text("fallback"))
    started = time.monotonic()
    completion = await router.complete(ASK)
    assert time.monotonic() - started < 5
    assert outcomes(completion) == [("anthropic:claude-a", "rate_limited"), ("openai:gpt-a", "ok")]


async def test_a_slow_answer_times_out_and_the_next_model_answers(
    sim_url: str, sim: LLMSimulator
) -> None:
    settings = sim_settings(sim_url, llm_timeout_seconds=0.2, llm_max_retries=0)
    router, registry = build_router(settings, MemoryCallLog())
    sim.script("claude-a", slow(1.0))
    sim.script("gpt-a", text("quick"))
    try:
        completion = await router.complete(ASK)
    finally:
        await registry.close()
    assert completion.text == "quick"
    assert outcomes(completion)[0] == ("anthropic:claude-a", "timeout")


async def test_when_every_model_fails_the_error_lists_the_attempts(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed
    sim.script("claude-a", *[fault(500)] * 3)
    sim.script("gpt-a", *[fault(503)] * 3)
    with pytest.raises(AllModelsFailed, match="every model for role coder failed") as caught:
        await router.complete(ASK)
    assert len(caught.value.attempts) == 6
    assert "anthropic:claude-a: server" in str(caught.value)


async def test_context_length_moves_to_a_model_with_a_larger_window(
    sim_url: str, sim: LLMSimulator
) -> None:
    settings = sim_settings(
        sim_url,
        llm_models={"coder": ["anthropic:claude-a", "ollama:small", "openai:gpt-4.1"]},
        ollama_url=sim_url,
    )
    router, registry = build_router(settings, MemoryCallLog())
    sim.script("claude-a", context_too_long())
    sim.script("gpt-4.1", text("it fits"))
    try:
        completion = await router.complete(ASK)
    finally:
        await registry.close()
    # claude (200k window) refused; ollama:* is priced with a 32k window: skipped, unasked
    assert outcomes(completion) == [
        ("anthropic:claude-a", "context_length"),
        ("ollama:small", "skipped"),
        ("openai:gpt-4.1", "ok"),
    ]
    assert sim.requests_for("small") == []


async def test_context_length_with_no_larger_model_tells_the_caller_to_shrink(
    sim_url: str, sim: LLMSimulator
) -> None:
    settings = sim_settings(
        sim_url, llm_models={"coder": ["openai:gpt-a", "ollama:small"]}, ollama_url=sim_url
    )
    router, registry = build_router(settings, MemoryCallLog())
    sim.script("gpt-a", context_too_long())
    try:
        with pytest.raises(ContextTooLong, match="shrink the context"):
            await router.complete(ASK)
    finally:
        await registry.close()


async def test_rejected_keys_are_a_configuration_problem_not_retried_and_never_shown(
    sim_url: str, sim: LLMSimulator
) -> None:
    sim.api_key = "the-right-key-" + "x" * 20
    router, registry = build_router(sim_settings(sim_url), MemoryCallLog())
    try:
        with pytest.raises(ProviderConfigError) as caught:
            await router.complete(ASK)
    finally:
        await registry.close()
    message = str(caught.value)
    assert "AGENTOPS_ANTHROPIC_API_KEY" in message and "401" in message
    assert "AGENTOPS_OPENAI_API_KEY" in message  # the chain went on, and says both
    assert ANTHROPIC_KEY not in message and OPENAI_KEY not in message
    assert [r.model for r in sim.requests] == ["claude-a", "gpt-a"]  # each once, no retry


async def test_stop_on_auth_error_keeps_the_stop_at_once_behaviour(
    sim_url: str, sim: LLMSimulator
) -> None:
    sim.api_key = "the-right-key-" + "x" * 20
    settings = sim_settings(sim_url, llm_stop_on_auth_error=True)
    router, registry = build_router(settings, MemoryCallLog())
    try:
        with pytest.raises(ProviderConfigError, match="AGENTOPS_ANTHROPIC_API_KEY"):
            await router.complete(ASK)
    finally:
        await registry.close()
    assert len(sim.requests) == 1  # no retry, no fallback


async def test_a_missing_key_is_reported_with_its_setting_and_the_next_model_answers(
    sim_url: str, sim: LLMSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    router, registry = build_router(sim_settings(sim_url, anthropic_api_key=None), MemoryCallLog())
    sim.script("gpt-a", text("answered by the next model"))
    try:
        completion = await router.complete(ASK)
    finally:
        await registry.close()
    assert completion.text == "answered by the next model"
    assert outcomes(completion) == [("anthropic:claude-a", "auth"), ("openai:gpt-a", "ok")]
    assert "set AGENTOPS_ANTHROPIC_API_KEY" in completion.attempts[0].detail
    assert "AGENTOPS_ANTHROPIC_API_KEY" in caplog.text
    assert [r.model for r in sim.requests] == ["gpt-a"]  # nothing sent without a key
