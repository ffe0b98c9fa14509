"""A run left `running` by a job that ended without finishing it (the database was down on
its last try, and ARQ keeps that job's result for an hour) is handed over: its job is put
back in the queue, and the sweep checks that it is there. A stopping worker hands its runs
over the same way, at once (jobs/graceful.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.connections import create_pool
from arq.jobs import Job

from app.config import Settings
from app.queue import RunQueue, job_id_for_run, redis_settings
from app.store import Database
from app.workflow.context import WorkflowDeps
from jobs import workflows
from jobs.graceful import HAND_OVER, HandOver, hand_over
from jobs.workflows import requeue_stale_runs
from tests.integration.llm.conftest import make_tenant_run


async def _no_forge(run: Any) -> Any:
    raise AssertionError("the sweep needs no forge")


async def test_a_run_whose_job_ended_on_a_database_error_gets_its_job_back(
    db: Database, redis_url: str, queue_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = await make_tenant_run(db)
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1",
            stuck.run_id,
        )
    job_id = job_id_for_run(queue_name, stuck.run_id)
    r = aioredis.Redis.from_url(redis_url)
    # what ARQ leaves after a job's last try raised: its result, kept for an hour
    await r.set(f"arq:result:{job_id}", b"failed: database unavailable", ex=3600)
    queue = RunQueue(redis_url, queue_name)
    settings = Settings(redis_url=redis_url, queue_name=queue_name, stale_run_seconds=60)
    try:
        await requeue_stale_runs({"deps": WorkflowDeps(settings, db, queue, _no_forge)})
        assert await r.zscore(queue_name, job_id) is not None  # in the queue: a worker takes it
        assert f"run {stuck.run_id}: its worker stopped" in caplog.text
        assert "handed to another worker (its job is in the queue)" in caplog.text
    finally:
        await r.delete(queue_name, f"arq:job:{job_id}", f"arq:result:{job_id}")
        await r.aclose()
        await queue.close()


async def test_a_hand_over_that_cannot_reach_redis_says_so_and_is_tried_again(
    db: Database, queue_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = await make_tenant_run(db)
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1",
            stuck.run_id,
        )
    closed = "redis://127.0.0.1:1/0"
    queue = RunQueue(closed, queue_name)
    settings = Settings(redis_url=closed, queue_name=queue_name, stale_run_seconds=60)
    try:
        await requeue_stale_runs({"deps": WorkflowDeps(settings, db, queue, _no_forge)})
    finally:
        await queue.close()
    assert f"could not hand over run {stuck.run_id}, Redis unreachable" in caplog.text
    assert "handed to another worker" not in caplog.text
    async with db.admin() as conn:
        status = await conn.fetchval("SELECT status FROM runs WHERE id = $1", stuck.run_id)
    assert status == "running"  # claimed again by a later sweep once its heartbeat is stale


async def test_a_stopping_worker_puts_its_runs_job_back_once_arq_has_ended_it(
    redis_url: str, queue_name: str
) -> None:
    job_id = job_id_for_run(queue_name, 41)
    r = aioredis.Redis.from_url(redis_url)
    queue = RunQueue(redis_url, queue_name)
    pool = await create_pool(redis_settings(redis_url), default_queue_name=queue_name)
    # what ARQ leaves after the handing-over job returned: its result, kept for an hour
    await r.set(f"arq:result:{job_id}", b"handed over", ex=3600)
    try:
        assert await queue.hand_back(41, job_try=3)
        assert await r.zscore(queue_name, job_id) is not None
        queued = await Job(job_id, pool, _queue_name=queue_name).info()
        assert queued is not None and queued.args == (41,)
        assert queued.job_try == 3  # the same try: a hand-over is no failure
        # a job still in the queue (cut by a second signal) and taken by another worker
        # meanwhile is left alone: its lock is that worker's
        await r.set(f"arq:in-progress:{job_id}", b"1")
        assert await queue.hand_back(41, job_try=3)
        assert await r.exists(f"arq:in-progress:{job_id}")
    finally:
        await r.delete(queue_name, f"arq:job:{job_id}", f"arq:in-progress:{job_id}")
        await r.aclose()
        await pool.aclose()
        await queue.close()


async def test_a_hand_back_that_cannot_reach_redis_says_so(
    queue_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = RunQueue("redis://127.0.0.1:1/0", queue_name)
    try:
        assert not await queue.hand_back(42, job_try=1)
    finally:
        await queue.close()
    assert "could not hand over run 42, Redis unreachable" in caplog.text


async def test_a_queued_run_whose_hand_back_failed_gets_its_job_back_from_the_sweep(
    db: Database, redis_url: str, queue_name: str
) -> None:
    waiting = await make_tenant_run(db)
    async with db.admin() as conn:  # its job began as its worker stopped: never started
        await conn.execute(
            "UPDATE runs SET status = 'queued', heartbeat_at = NULL,"
            " created_at = now() - interval '10 minutes' WHERE id = $1",
            waiting.run_id,
        )
    job_id = job_id_for_run(queue_name, waiting.run_id)
    r = aioredis.Redis.from_url(redis_url)
    # what ARQ leaves after that job returned (its hand-back failed): its result, an hour
    await r.set(f"arq:result:{job_id}", b"not started: the worker is stopping", ex=3600)
    queue = RunQueue(redis_url, queue_name)
    pool = await create_pool(redis_settings(redis_url), default_queue_name=queue_name)
    settings = Settings(redis_url=redis_url, queue_name=queue_name, requeue_after_seconds=60)
    try:
        await requeue_stale_runs({"deps": WorkflowDeps(settings, db, queue, _no_forge)})
        assert await r.zscore(queue_name, job_id) is not None  # in the queue: a worker takes it
        queued = await Job(job_id, pool, _queue_name=queue_name).info()
        assert queued is not None and queued.args == (waiting.run_id,)
    finally:
        await r.delete(queue_name, f"arq:job:{job_id}", f"arq:result:{job_id}")
        await r.aclose()
        await pool.aclose()
        await queue.close()


async def test_a_job_under_way_is_not_enqueued_again_by_the_sweep(
    db: Database, redis_url: str, queue_name: str
) -> None:
    """A run still queued in the database whose job a worker has just taken: the sweep's
    requeue leaves that job alone (no second job of the id, its result kept)."""
    waiting = await make_tenant_run(db)
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET status = 'queued', created_at = now() - interval '10 minutes'"
            " WHERE id = $1",
            waiting.run_id,
        )
    job_id = job_id_for_run(queue_name, waiting.run_id)
    r = aioredis.Redis.from_url(redis_url)
    await r.set(f"arq:job:{job_id}", b"taken", ex=3600)
    queue = RunQueue(redis_url, queue_name)
    settings = Settings(redis_url=redis_url, queue_name=queue_name, requeue_after_seconds=60)
    try:
        await requeue_stale_runs({"deps": WorkflowDeps(settings, db, queue, _no_forge)})
        assert await r.get(f"arq:job:{job_id}") == b"taken"
        assert await r.zscore(queue_name, job_id) is None
    finally:
        await r.delete(queue_name, f"arq:job:{job_id}")
        await r.aclose()
        await queue.close()


async def test_a_hand_back_of_a_run_never_started_that_fails_says_what_happens_next(
    db: Database, queue_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    closed = "redis://127.0.0.1:1/0"
    queue = RunQueue(closed, queue_name)
    settings = Settings(redis_url=closed, queue_name=queue_name, requeue_after_seconds=60)
    ctx = {
        "deps": WorkflowDeps(settings, db, queue, _no_forge),
        HAND_OVER: HandOver(43, claimed=False),
    }
    try:
        await hand_over(ctx)
    finally:
        await queue.close()
    assert "run 43: not started as the worker stops, and its job could not be put back" in (
        caplog.text
    )
    assert "the sweep enqueues it once Redis is back (it checks every 5 s)" in caplog.text
    assert "heartbeat" not in caplog.text  # a queued run has none


async def test_a_run_without_its_job_behind_a_long_backlog_gets_it_from_the_sweep(
    db: Database,
    redis_url: str,
    queue_name: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis says which jobs are there: the sweep reads every queued run, page after page,
    so a run whose enqueue was lost is found behind any number of older ones waiting in
    the queue, and those keep their jobs as they are."""
    monkeypatch.setattr(workflows, "REQUEUE_PAGE", 2)
    caplog.set_level(logging.INFO, logger="jobs.workflows")
    runs = [(await make_tenant_run(db)).run_id for _ in range(5)]
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET status = 'queued', heartbeat_at = NULL,"
            " created_at = now() - interval '10 minutes' + make_interval(secs => id % 1000)"
            " WHERE id = ANY($1)",
            runs,
        )
    waiting, lost = runs[:4], runs[4]
    r = aioredis.Redis.from_url(redis_url)
    keys = [f"arq:job:{job_id_for_run(queue_name, run_id)}" for run_id in runs]
    for run_id in waiting:  # in the queue, not yet taken
        job_id = job_id_for_run(queue_name, run_id)
        await r.set(f"arq:job:{job_id}", b"waiting", ex=3600)
        await r.zadd(queue_name, {job_id: 1})
    queue = RunQueue(redis_url, queue_name)
    settings = Settings(redis_url=redis_url, queue_name=queue_name, requeue_after_seconds=60)
    try:
        await requeue_stale_runs({"deps": WorkflowDeps(settings, db, queue, _no_forge)})
        lost_job = job_id_for_run(queue_name, lost)
        assert await r.zscore(queue_name, lost_job) is not None
        assert await r.get(f"arq:job:{lost_job}") not in (None, b"waiting")
        for run_id in waiting:
            assert await r.get(f"arq:job:{job_id_for_run(queue_name, run_id)}") == b"waiting"
        requeued = next(m for m in caplog.messages if m.startswith("re-enqueued"))
        assert str(lost) in requeued.split(": ")[1].split(", ")
        assert not {str(n) for n in waiting} & set(requeued.split(": ")[1].split(", "))
    finally:
        await r.delete(queue_name, *keys)
        await r.aclose()
        await queue.close()
