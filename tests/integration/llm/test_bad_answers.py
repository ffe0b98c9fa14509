"""Answers that gateways, proxies and self-hosted servers really give, through the real SDKs:
each becomes a classified failure that is retried or falls back, and is recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from app.llm import LLMRequest, Message
from app.llm.router import LLMRouter
from app.store import Database
from app.store.llm_calls import llm_calls_of_run
from tests.integration.llm.conftest import TenantRun
from tests.sim.llm_sim import (
    LLMSimulator,
    dropped,
    garbage,
    quota_exhausted,
    rate_limited_with_reset,
    text,
)

ASK = LLMRequest("coder", "You write code.", (Message.user("Say hello."),), max_tokens=64)


def outcomes(completion: object) -> list[tuple[str, str]]:
    return [(a.model_id, a.outcome) for a in getattr(completion, "attempts", ())]


async def test_a_200_that_is_not_json_is_retried_and_recorded(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    router, _ = routed
    sim.script("claude-a", garbage(), text("hello"))
    completion = await router.complete(ASK)
    assert completion.text == "hello"
    assert outcomes(completion) == [
        ("anthropic:claude-a", "invalid_response"),
        ("anthropic:claude-a", "ok"),
    ]
    async with db.tenant(tenant_run.tenant_id) as tc:
        rows = await llm_calls_of_run(tc, tenant_run.run_id)
    assert [(r.model, r.outcome) for r in rows] == outcomes(completion)
    assert "could not be read" in rows[0].detail


@pytest.mark.parametrize(
    ("first", "body"),
    [
        ("claude-a", '{"id": "msg_1", "type": "message"}'),  # no content, no usage
        ("claude-a", '{"content": [{"type": "text", "te'),  # cut off inside the JSON
    ],
)
async def test_answers_missing_their_fields_fall_back_to_the_next_model(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, first: str, body: str
) -> None:
    router, _ = routed
    sim.script(first, garbage(body), garbage(body), garbage(body))
    sim.script("gpt-a", garbage('{"id": "chatcmpl-1", "choices": []}'), text("fallback"))
    completion = await router.complete(ASK)
    assert completion.text == "fallback"
    assert outcomes(completion) == [
        ("anthropic:claude-a", "invalid_response"),
        ("anthropic:claude-a", "invalid_response"),
        ("anthropic:claude-a", "invalid_response"),
        ("openai:gpt-a", "invalid_response"),
        ("openai:gpt-a", "ok"),
    ]


async def test_a_dropped_answer_gets_the_retries_of_a_5xx_not_of_a_refused_connection(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed  # llm_max_retries=2; a refused connection gets only one
    sim.script("claude-a", dropped(), dropped(), text("third time"))
    completion = await router.complete(ASK)
    assert completion.text == "third time"
    assert outcomes(completion) == [
        ("anthropic:claude-a", "dropped"),
        ("anthropic:claude-a", "dropped"),
        ("anthropic:claude-a", "ok"),
    ]


@pytest.mark.parametrize("api", ["anthropic", "openai"])
async def test_out_of_quota_is_not_retried_and_falls_back_saying_so(
    routed: tuple[LLMRouter, object],
    sim: LLMSimulator,
    api: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router, _ = routed
    first, second = ("claude-a", "gpt-a") if api == "anthropic" else ("gpt-a", "claude-a")
    request = ASK if api == "anthropic" else LLMRequest("planner", "p", ASK.messages)
    if api == "openai":  # the planner's chain, reversed for this case
        router.routes.chains["planner"] = tuple(reversed(router.routes.chains["planner"]))
    sim.script(first, quota_exhausted(api), text("never asked"))
    sim.script(second, text("from the other account"))
    completion = await router.complete(request)
    assert completion.text == "from the other account"
    assert [o for _, o in outcomes(completion)] == ["quota", "ok"]
    assert "billing" in completion.attempts[0].detail
    assert len(sim.requests_for(first)) == 1
    assert "out of quota or credit" in caplog.text


async def test_rate_limit_reset_headers_are_honoured_without_retry_after(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed
    in_a_moment = (datetime.now(UTC) + timedelta(seconds=0.8)).isoformat()
    sim.script(
        "claude-a",
        rate_limited_with_reset(
            **{
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "300ms",
                "x-ratelimit-remaining-tokens": "90000",
                "x-ratelimit-reset-tokens": "6m0s",
            }
        ),
        rate_limited_with_reset(
            **{
                "anthropic-ratelimit-tokens-remaining": "0",
                "anthropic-ratelimit-tokens-reset": in_a_moment,
            }
        ),
        text("after the reset"),
    )
    started = time.monotonic()
    completion = await router.complete(ASK)
    waited = time.monotonic() - started
    assert completion.text == "after the reset"
    # 0.3 s for the used-up request limit (not 6 minutes for the tokens), then until the
    # time Anthropic's header names, 0.8 s after the start
    assert 0.7 <= waited < 5
