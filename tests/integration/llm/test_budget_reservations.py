"""Budgets hold under concurrency: every call holds its estimated cost until its real
cost is recorded, and the holds of one tenant are taken one at a time.

Each simulated worker has its own connection pool and router, as separate worker
processes would; the simulator answers slowly, so that every call is in flight at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from app.config import Settings
from app.llm import BudgetExhausted, LLMRequest, Message, PostgresCallLog, build_router
from app.llm.budgets import BudgetLimits
from app.llm.model_ids import parse_model_id
from app.llm.prices import estimate_cost_usd, load_price_table
from app.queue import RunQueue
from app.store import Database, connect
from app.store.llm_calls import llm_calls_of_run
from app.store.llm_reservations import held_usd
from app.workflow.context import WorkflowDeps
from jobs.workflows import requeue_stale_runs
from tests.integration.llm.conftest import TenantRun, make_tenant_run, sim_settings
from tests.sim.llm_sim import LLMSimulator, slow, text

CALLS = 6  # concurrent calls
ALLOWED = 2  # of which the budget admits this many
ASK = LLMRequest("coder", "sys", (Message.user("hi"),), max_tokens=1000)


def estimate() -> float:
    """What the router holds for `ASK` on the coder role's first model."""
    price = load_price_table().price_for(parse_model_id("anthropic:claude-a"))
    return estimate_cost_usd(ASK, price)


def room_for(calls: int) -> float:
    """A budget that admits `calls` concurrent calls of `ASK`, and not one more."""
    return estimate() * (calls + 0.5)


async def another_run(db: Database, tenant_id: int) -> int:
    async with db.admin() as conn:
        run_id: int = await conn.fetchval(
            "INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command,"
            " requested_by, trigger, trigger_key, status)"
            " VALUES ($1, 'github', 'acme/app', 'issue', 9, 'implement', 'alice', 'comment',"
            " $2, 'running') RETURNING id",
            tenant_id,
            f"t-{uuid.uuid4().hex}",
        )
    return run_id


Ask = Callable[[TenantRun, Settings], Awaitable[Any]]


@pytest.fixture
async def ask_as_worker(database_url: str) -> AsyncIterator[Ask]:
    """`ask(where, settings)`: one `ASK` from a worker of its own (pool and router)."""
    pools: list[Database] = []

    async def ask(where: TenantRun, settings: Settings) -> Any:
        worker_db = await connect(database_url, min_size=1, max_size=2)
        pools.append(worker_db)
        log = PostgresCallLog(worker_db, where.tenant_id, where.run_id)
        router, registry = build_router(settings, log)
        try:
            return await router.complete(ASK)
        finally:
            await registry.close()

    yield ask
    for pool in pools:
        await pool.close()


def outcomes(results: list[Any]) -> tuple[int, list[BaseException]]:
    answered = sum(1 for r in results if not isinstance(r, BaseException))
    refused = [r for r in results if isinstance(r, BaseException)]
    return answered, refused


async def test_concurrent_calls_of_one_run_never_overrun_the_run_budget(
    sim_url: str, sim: LLMSimulator, db: Database, tenant_run: TenantRun, ask_as_worker: Ask
) -> None:
    sim.script("claude-a", *[slow(1.0, text("ok"))] * CALLS)
    settings = sim_settings(sim_url, budget_run_usd=room_for(ALLOWED))
    results = await asyncio.gather(
        *(ask_as_worker(tenant_run, settings) for _ in range(CALLS)), return_exceptions=True
    )
    answered, refused = outcomes(results)
    assert len(sim.requests) == ALLOWED and answered == ALLOWED
    assert len(refused) == CALLS - ALLOWED
    for exc in refused:
        assert isinstance(exc, BudgetExhausted), exc
        assert "run budget of $" in str(exc) and "AGENTOPS_BUDGET_RUN_USD" in str(exc)
    async with db.tenant(tenant_run.tenant_id) as tc:
        assert len(await llm_calls_of_run(tc, tenant_run.run_id)) == ALLOWED
        assert await held_usd(tc) == 0  # every hold was settled


async def test_concurrent_runs_of_one_tenant_never_overrun_the_monthly_budget(
    sim_url: str, sim: LLMSimulator, db: Database, tenant_run: TenantRun, ask_as_worker: Ask
) -> None:
    runs = [tenant_run] + [
        TenantRun(tenant_run.tenant_id, await another_run(db, tenant_run.tenant_id))
        for _ in range(CALLS - 1)
    ]
    sim.script("claude-a", *[slow(1.0, text("ok"))] * CALLS)
    settings = sim_settings(sim_url, budget_tenant_month_usd=room_for(ALLOWED))
    results = await asyncio.gather(
        *(ask_as_worker(run, settings) for run in runs), return_exceptions=True
    )
    answered, refused = outcomes(results)
    assert len(sim.requests) == ALLOWED and answered == ALLOWED
    assert len(refused) == CALLS - ALLOWED
    for exc in refused:
        assert isinstance(exc, BudgetExhausted), exc
        assert "monthly tenant budget of $" in str(exc)
        assert "AGENTOPS_BUDGET_TENANT_MONTH_USD" in str(exc)


async def test_the_hold_of_a_crashed_call_stops_counting_when_it_expires(
    sim_url: str, sim: LLMSimulator, db: Database, tenant_run: TenantRun
) -> None:
    limits = BudgetLimits(run_usd=room_for(1))
    crashed = PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id, hold_seconds=1.0)
    await crashed.reserve(limits, estimate())  # and its worker is killed: never settled
    log = PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id)
    router, registry = build_router(sim_settings(sim_url, budget_run_usd=limits.run_usd), log)
    try:
        with pytest.raises(BudgetExhausted, match="run budget"):
            await router.complete(ASK)
        assert sim.requests == []
        await asyncio.sleep(1.2)
        assert (await router.complete(ASK)).text
    finally:
        await registry.close()
    assert len(sim.requests) == 1


async def test_the_sweep_drops_the_holds_of_a_run_whose_worker_died(
    db: Database, tenant_run: TenantRun, redis_url: str, queue_name: str
) -> None:
    limits = BudgetLimits(run_usd=room_for(1))
    crashed = PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id)
    await crashed.reserve(limits, estimate())
    other = await make_tenant_run(db)  # a live run of another tenant keeps its hold
    await PostgresCallLog(db, other.tenant_id, other.run_id).reserve(limits, estimate())
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1",
            tenant_run.run_id,
        )
    queue = RunQueue(redis_url, queue_name)
    settings = Settings(redis_url=redis_url, queue_name=queue_name, stale_run_seconds=60)

    async def no_forge(run: Any) -> Any:
        raise AssertionError("the sweep needs no forge")

    try:
        await requeue_stale_runs({"deps": WorkflowDeps(settings, db, queue, no_forge)})
    finally:
        await queue.close()
    async with db.tenant(tenant_run.tenant_id) as tc:
        assert await held_usd(tc) == 0
    async with db.tenant(other.tenant_id) as tc:
        assert await held_usd(tc) == pytest.approx(estimate(), abs=1e-6)
    await crashed.reserve(limits, estimate())  # the run's budget is free again


async def test_a_tenant_neither_sees_nor_counts_another_tenants_holds(
    db: Database, tenant_run: TenantRun
) -> None:
    other = await make_tenant_run(db)
    limits = BudgetLimits(tenant_month_usd=room_for(1))
    mine = await PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id).reserve(
        limits, estimate()
    )
    theirs = PostgresCallLog(db, other.tenant_id, other.run_id)
    await theirs.reserve(limits, estimate())  # my hold does not count against them
    async with db.tenant(other.tenant_id) as tc:
        assert await held_usd(tc) == pytest.approx(estimate(), abs=1e-6)
        assert await tc.conn.fetch("SELECT * FROM llm_reservations WHERE id = $1", mine.id) == []
        await tc.conn.execute("DELETE FROM llm_reservations WHERE id = $1", mine.id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await tc.conn.execute(
                "INSERT INTO llm_reservations (id, tenant_id, run_id, estimate_usd, expires_at)"
                " VALUES ($1, $2, $3, 1, now() + interval '1 hour')",
                uuid.uuid4(),
                tenant_run.tenant_id,
                tenant_run.run_id,
            )
    async with db.tenant(tenant_run.tenant_id) as tc:
        assert await held_usd(tc) == pytest.approx(estimate(), abs=1e-6)  # not deleted
    with pytest.raises(BudgetExhausted, match="monthly tenant budget"):
        await theirs.reserve(limits, estimate())
