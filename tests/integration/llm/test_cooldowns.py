"""A model that keeps failing is skipped by every worker (state in the real Redis) until its
cooldown ends, and then tried again."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from app.llm import LLMRequest, MemoryCallLog, Message, build_router
from app.llm.cooldowns import CooldownPolicy, RedisCooldowns
from app.llm.router import LLMRouter
from tests.integration.llm.conftest import sim_settings
from tests.sim.llm_sim import LLMSimulator, fault, slow, text

ASK = LLMRequest("coder", "You write code.", (Message.user("Say hello."),), max_tokens=64)
REDIS_URL = os.environ.get("AGENTOPS_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> str:
    return f"agentops-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def two_workers(
    sim_url: str, prefix: str
) -> AsyncIterator[tuple[LLMRouter, LLMRouter, RedisCooldowns]]:
    """Two routers with their own Redis connections, as two worker processes have."""
    policy = CooldownPolicy(failures=3, window=60, cooldown=1.0)
    settings = sim_settings(sim_url, llm_max_retries=5, llm_timeout_seconds=0.5)
    opened = []
    routers = []
    for _ in range(2):
        cooldowns = RedisCooldowns(REDIS_URL, prefix, policy)
        router, registry = build_router(settings, MemoryCallLog(), cooldowns=cooldowns)
        opened.append((cooldowns, registry))
        routers.append(router)
    observer = RedisCooldowns(REDIS_URL, prefix, policy)
    yield routers[0], routers[1], observer
    await observer.close()
    for cooldowns, registry in opened:
        await registry.close()
        await cooldowns.close()


def outcomes(completion: object) -> list[tuple[str, str]]:
    return [(a.model_id, a.outcome) for a in getattr(completion, "attempts", ())]


async def test_a_failing_model_is_skipped_by_every_worker_until_its_cooldown_ends(
    two_workers: tuple[LLMRouter, LLMRouter, RedisCooldowns], sim: LLMSimulator
) -> None:
    first, second, observer = two_workers
    sim.script("claude-a", fault(503), fault(503), fault(503), fault(503))
    sim.script("gpt-a", text("fallback one"), text("fallback two"))

    completion = await first.complete(ASK)
    # the third failure started the cooldown: no more retries on it (5 were allowed)
    assert outcomes(completion) == [
        ("anthropic:claude-a", "server"),
        ("anthropic:claude-a", "server"),
        ("anthropic:claude-a", "server"),
        ("openai:gpt-a", "ok"),
    ]
    cooling = await observer.active()
    assert cooling is not None and set(cooling) == {"anthropic:claude-a"}

    asked_before = len(sim.requests_for("claude-a"))
    completion = await second.complete(ASK)  # another worker
    assert completion.text == "fallback two"
    assert outcomes(completion)[0][1] == "cooldown"
    assert len(sim.requests_for("claude-a")) == asked_before  # skipped without a call

    await asyncio.sleep(1.1)
    sim.script("claude-a", text("healthy again"))
    assert (await second.complete(ASK)).text == "healthy again"
    assert await observer.active() == {}


async def test_timeouts_put_a_model_in_cooldown_so_later_calls_do_not_wait_for_them(
    two_workers: tuple[LLMRouter, LLMRouter, RedisCooldowns], sim: LLMSimulator
) -> None:
    first, second, _ = two_workers
    sim.script("claude-a", *[slow(2.0, text("too late"))] * 3)
    sim.script("gpt-a", text("one"), text("two"))
    await first.complete(ASK)  # pays three timeouts of 0.5 s
    started = time.monotonic()
    completion = await second.complete(ASK)
    assert completion.text == "two"
    assert time.monotonic() - started < 0.4  # no timeout paid again


async def test_an_answer_clears_the_failure_count(
    two_workers: tuple[LLMRouter, LLMRouter, RedisCooldowns], sim: LLMSimulator
) -> None:
    first, second, observer = two_workers
    sim.script("claude-a", fault(500), fault(500), text("ok"), fault(500), fault(500), text("ok"))
    assert (await first.complete(ASK)).text == "ok"
    assert (await second.complete(ASK)).text == "ok"  # 4 failures in all, never 3 in a row
    assert await observer.active() == {}


async def test_unreachable_redis_never_stops_a_call(sim_url: str, sim: LLMSimulator) -> None:
    cooldowns = RedisCooldowns("redis://127.0.0.1:1/0", "unreachable")
    router, registry = build_router(sim_settings(sim_url), MemoryCallLog(), cooldowns=cooldowns)
    sim.script("claude-a", fault(500), text("answered"))
    try:
        assert (await router.complete(ASK)).text == "answered"
        assert await cooldowns.active() is None
    finally:
        await registry.close()
        await cooldowns.close()
