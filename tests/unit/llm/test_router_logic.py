"""The router's decisions with a scripted in-memory provider: no network, no clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from app.llm.budgets import BudgetLimits
from app.llm.call_log import MemoryCallLog
from app.llm.errors import AllModelsFailed, BudgetExhausted, ProviderError
from app.llm.model_ids import parse_model_id
from app.llm.prices import estimate_cost_usd, load_price_table
from app.llm.router import LLMRouter, RetryPolicy
from app.llm.routing import Routes
from app.llm.types import LLMRequest, LLMResponse, Message, Usage

ASK = LLMRequest("coder", "s", (Message.user("hi"),), max_tokens=100)


@dataclass
class ScriptedProvider:
    script: list[ProviderError | LLMResponse]
    name: str = "scripted"
    asked: list[str] = field(default_factory=list)

    async def complete(self, request: LLMRequest, model: str) -> LLMResponse:
        self.asked.append(model)
        step = self.script.pop(0)
        if isinstance(step, ProviderError):
            raise step
        return step

    async def check(self, model: str) -> str:
        return "reachable"

    async def close(self) -> None:
        return None


def make_router(
    chain: list[str],
    provider: ScriptedProvider,
    log: MemoryCallLog | None = None,
    limits: BudgetLimits | None = None,
) -> tuple[LLMRouter, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    router = LLMRouter(
        Routes({"coder": tuple(parse_model_id(m) for m in chain)}),
        lambda _model_id: provider,
        load_price_table(),
        log or MemoryCallLog(),
        policy=RetryPolicy(max_retries=3, base_delay=1.0, max_delay=30.0, jitter=0.0),
        limits=limits,
        sleep=sleep,
    )
    return router, slept


OK = LLMResponse("fine", usage=Usage(1000, 100))


async def test_waits_follow_retry_after_then_exponential_backoff() -> None:
    provider = ScriptedProvider(
        [
            ProviderError("rate_limited", "slow down", 429, retry_after=7.0),
            ProviderError("server", "boom", 500),
            ProviderError("overloaded", "busy", 529),
            OK,
        ]
    )
    router, slept = make_router(["anthropic:claude-a"], provider)
    assert (await router.complete(ASK)).text == "fine"
    assert slept == [7.0, 2.0, 4.0]


async def test_a_refused_connection_is_retried_once_then_the_next_model() -> None:
    refused = ProviderError("connection", "refused")
    provider = ScriptedProvider([refused, refused, OK])
    router, slept = make_router(["ollama:a", "openai:gpt-4.1"], provider)
    completion = await router.complete(ASK)
    assert provider.asked == ["a", "a", "gpt-4.1"] and slept == [1.0]
    assert completion.model_id == "openai:gpt-4.1"


async def test_a_bad_request_is_not_retried_but_falls_back() -> None:
    provider = ScriptedProvider([ProviderError("bad_request", "tools unsupported", 400)] * 2)
    router, slept = make_router(["ollama:a", "ollama:b"], provider)
    with pytest.raises(AllModelsFailed, match="tools unsupported"):
        await router.complete(ASK)
    assert provider.asked == ["a", "b"] and slept == []


async def test_cost_is_priced_from_the_table_and_counted_against_the_run_budget() -> None:
    log = MemoryCallLog()
    provider = ScriptedProvider([OK, OK])
    router, _ = make_router(["openai:gpt-4.1"], provider, log, BudgetLimits(run_usd=0.005))
    first = await router.complete(ASK)
    assert first.cost_usd == pytest.approx((1000 * 2.0 + 100 * 8.0) / 1e6)
    await router.complete(ASK)
    with pytest.raises(BudgetExhausted, match="run budget"):
        await router.complete(ASK)
    assert len(provider.asked) == 2
    assert [r.outcome for r in log.records] == ["ok", "ok"]


@dataclass
class BlockingProvider:
    """Answers `OK` once `go` is set; counts the calls that reached it."""

    go: asyncio.Event = field(default_factory=asyncio.Event)
    name: str = "blocking"
    asked: int = 0

    async def complete(self, request: LLMRequest, model: str) -> LLMResponse:
        self.asked += 1
        await self.go.wait()
        return OK

    async def check(self, model: str) -> str:
        return "reachable"

    async def close(self) -> None:
        return None


def blocking_router(
    provider: BlockingProvider, log: MemoryCallLog, limits: BudgetLimits
) -> LLMRouter:
    return LLMRouter(
        Routes({"coder": (parse_model_id("openai:gpt-4.1"),)}),
        lambda _model_id: provider,
        load_price_table(),
        log,
        limits=limits,
    )


async def test_calls_in_flight_hold_their_estimate_until_recorded() -> None:
    log = MemoryCallLog()
    provider = BlockingProvider()
    estimate = estimate_cost_usd(
        ASK, load_price_table().price_for(parse_model_id("openai:gpt-4.1"))
    )
    router = blocking_router(provider, log, BudgetLimits(run_usd=estimate * 1.5))
    first = asyncio.create_task(router.complete(ASK))
    await asyncio.sleep(0)
    with pytest.raises(BudgetExhausted, match="run budget"):
        await router.complete(ASK)
    provider.go.set()
    assert (await first).text == "fine"
    assert provider.asked == 1 and log.held == {}


async def test_a_cancelled_or_crashed_call_releases_its_hold() -> None:
    log = MemoryCallLog()
    provider = BlockingProvider()
    router = blocking_router(provider, log, BudgetLimits(run_usd=1.0))
    call = asyncio.create_task(router.complete(ASK))
    await asyncio.sleep(0)
    assert len(log.held) == 1
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert log.held == {} and log.records == []

    crashing = ScriptedProvider([])  # popping from an empty script: an internal fault
    router, _ = make_router(["openai:gpt-4.1"], crashing, log, BudgetLimits(run_usd=1.0))
    with pytest.raises(IndexError):
        await router.complete(ASK)
    assert log.held == {}
