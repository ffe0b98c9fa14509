"""Usage recorded in PostgreSQL per attempt; budgets checked before each call."""

from __future__ import annotations

import uuid

import pytest

from app.llm import BudgetExhausted, LLMRequest, Message, PostgresCallLog, build_router
from app.llm.router import LLMRouter
from app.store import Database
from app.store.llm_calls import (
    LLMCallRow,
    insert_llm_call,
    llm_calls_of_run,
    llm_usage_of_run,
)
from tests.integration.llm.conftest import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    TenantRun,
    make_tenant_run,
    sim_settings,
)
from tests.sim.llm_sim import LLMSimulator, fault, text

REPO_CONTEXT = "<repository map>\n" + "def function_%d(): ...\n" * 400


async def test_every_attempt_is_recorded_with_tokens_cost_latency_and_outcome(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    router, _ = routed
    sim.script("claude-a", fault(429, retry_after=0.01), text("hello"))
    completion = await router.complete(
        LLMRequest("coder", "sys", (Message.user("hi"),), max_tokens=64)
    )
    async with db.tenant(tenant_run.tenant_id) as tc:
        rows = await llm_calls_of_run(tc, tenant_run.run_id)
    assert [(r.model, r.outcome, r.attempt) for r in rows] == [
        ("anthropic:claude-a", "rate_limited", 1),
        ("anthropic:claude-a", "ok", 2),
    ]
    ok = rows[1]
    assert ok.provider == "anthropic" and ok.role == "coder"
    assert ok.output_tokens == 7 and ok.input_tokens > 0
    assert ok.cost_usd == pytest.approx(completion.cost_usd, abs=1e-6) and ok.cost_usd > 0
    assert ok.latency_ms >= 0 and rows[0].call_id == ok.call_id
    assert ok.response is not None and ok.response["text"] == "hello"
    async with db.tenant(tenant_run.tenant_id) as tc:
        (total,) = await llm_usage_of_run(tc, tenant_run.run_id)
    assert (total.model, total.calls, total.attempts) == ("anthropic:claude-a", 1, 2)
    assert total.cost_usd == pytest.approx(ok.cost_usd, abs=1e-6)


async def test_the_stable_prefix_is_cached_and_cached_tokens_are_reported(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    router, _ = routed
    request = LLMRequest("reviewer", "Review.", (Message.user("first"),), context=REPO_CONTEXT)
    first = await router.complete(request)
    second = await router.complete(request.with_messages(Message.user("second")))
    assert first.response.usage.cache_write_tokens > 0 and first.response.usage.cached_tokens == 0
    assert second.response.usage.cached_tokens == first.response.usage.cache_write_tokens
    async with db.tenant(tenant_run.tenant_id) as tc:
        rows = await llm_calls_of_run(tc, tenant_run.run_id)
    assert rows[-1].cached_tokens == second.response.usage.cached_tokens


async def test_secrets_never_reach_the_provider_or_the_record(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    router, _ = routed
    leaked = "ghp_" + "L" * 36
    await router.complete(
        LLMRequest("coder", "sys", (Message.user(f"token {leaked} and {ANTHROPIC_KEY}"),))
    )
    sent = repr(sim.requests[-1].body)
    assert leaked not in sent and ANTHROPIC_KEY not in sent and "[REDACTED]" in sent
    async with db.tenant(tenant_run.tenant_id) as tc:
        rows = await llm_calls_of_run(tc, tenant_run.run_id)
    stored = repr([r.request for r in rows])
    for secret in (leaked, ANTHROPIC_KEY, OPENAI_KEY):
        assert secret not in stored


async def spend(db: Database, where: TenantRun, usd: float) -> None:
    async with db.tenant(where.tenant_id) as tc:
        await insert_llm_call(
            tc,
            LLMCallRow(
                run_id=where.run_id,
                call_id=uuid.uuid4(),
                attempt=1,
                role="coder",
                provider="anthropic",
                model="anthropic:claude-a",
                outcome="ok",
                detail="",
                input_tokens=0,
                output_tokens=0,
                cached_tokens=0,
                cache_write_tokens=0,
                cost_usd=usd,
                latency_ms=1,
                fingerprint="x",
                request={},
                response=None,
            ),
        )


async def test_an_exhausted_run_budget_stops_before_the_call(
    sim_url: str, sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    await spend(db, tenant_run, 0.999)
    log = PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id)
    router, registry = build_router(sim_settings(sim_url, budget_run_usd=1.0), log)
    try:
        with pytest.raises(BudgetExhausted) as caught:
            await router.complete(LLMRequest("coder", "sys", (Message.user("hi"),)))
    finally:
        await registry.close()
    assert "run budget of $1.00 is exhausted" in str(caught.value)
    assert "AGENTOPS_BUDGET_RUN_USD" in str(caught.value)
    assert sim.requests == []


async def test_the_monthly_tenant_budget_counts_every_run_of_the_tenant_only(
    sim_url: str, sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    other_run = await make_tenant_run(db)
    await spend(db, other_run, 50.0)  # another tenant's spending does not count
    earlier = TenantRun(tenant_run.tenant_id, (await make_tenant_run_for(db, tenant_run)))
    await spend(db, earlier, 4.99)
    settings = sim_settings(sim_url, budget_tenant_month_usd=5.0)
    log = PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id)
    router, registry = build_router(settings, log)
    try:
        with pytest.raises(BudgetExhausted, match=r"monthly tenant budget of \$5\.00"):
            await router.complete(LLMRequest("coder", "sys", (Message.user("hi"),)))
        other_log = PostgresCallLog(db, other_run.tenant_id, other_run.run_id)
        other_router, other_registry = build_router(
            sim_settings(sim_url, budget_tenant_month_usd=100.0), other_log
        )
        assert (await other_router.complete(LLMRequest("coder", "sys", (Message.user("hi"),)))).text
        await other_registry.close()
    finally:
        await registry.close()


async def make_tenant_run_for(db: Database, where: TenantRun) -> int:
    async with db.admin() as conn:
        run_id: int = await conn.fetchval(
            "INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command,"
            " requested_by, trigger, trigger_key, status)"
            " VALUES ($1, 'github', 'acme/app', 'issue', 8, 'implement', 'alice', 'comment',"
            " $2, 'succeeded') RETURNING id",
            where.tenant_id,
            f"t-{uuid.uuid4().hex}",
        )
    return run_id


async def test_a_tenant_cannot_read_another_tenants_calls(
    routed: tuple[LLMRouter, object], db: Database, tenant_run: TenantRun
) -> None:
    router, _ = routed
    await router.complete(LLMRequest("coder", "sys", (Message.user("hi"),)))
    other = await make_tenant_run(db)
    async with db.tenant(other.tenant_id) as tc:
        assert await llm_calls_of_run(tc, tenant_run.run_id) == []
    async with db.tenant(tenant_run.tenant_id) as tc:
        assert len(await llm_calls_of_run(tc, tenant_run.run_id)) == 1
