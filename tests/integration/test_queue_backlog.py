"""`RunQueue.backlog` on the real Redis: what `agentops_queue_depth` and
`agentops_queue_oldest_age_seconds` show (jobs due and not taken; the oldest's wait)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from app.queue import RunQueue, job_id_for_run


@pytest.fixture
async def queue(redis_url: str, queue_name: str) -> AsyncIterator[RunQueue]:
    run_queue = RunQueue(redis_url, queue_name)
    yield run_queue
    await run_queue.close()
    r = aioredis.Redis.from_url(redis_url)
    ids = [j.decode() for j in await r.zrange(queue_name, 0, -1)]
    await r.delete(
        queue_name, *(f"arq:job:{j}" for j in ids), *(f"arq:in-progress:{j}" for j in ids)
    )
    await r.aclose()


async def test_an_empty_queue_has_no_backlog(queue: RunQueue) -> None:
    assert await queue.backlog() == (0, 0.0)


async def test_jobs_taken_by_a_worker_and_jobs_deferred_are_not_waiting(
    queue: RunQueue, redis_url: str, queue_name: str
) -> None:
    r = aioredis.Redis.from_url(redis_url)
    try:
        assert await queue.enqueue_runs([1, 2, 3])
        assert await queue.enqueue_run(4, defer_seconds=600)  # a retry, due later
        # the oldest job was due 90 s ago and a worker runs it; the next two, 30 s ago
        await r.zadd(queue_name, {job_id_for_run(queue_name, 1): 0}, xx=True)
        now_ms = int(await r.zscore(queue_name, job_id_for_run(queue_name, 2)) or 0)
        await r.zadd(queue_name, {job_id_for_run(queue_name, 1): now_ms - 90_000}, xx=True)
        for run_id in (2, 3):
            await r.zadd(queue_name, {job_id_for_run(queue_name, run_id): now_ms - 30_000})
        await r.set(f"arq:in-progress:{job_id_for_run(queue_name, 1)}", b"1", px=60_000)
        backlog = await queue.backlog()
        assert backlog is not None
        depth, age = backlog
        assert depth == 2
        assert 30 <= age < 40
        # a sample (where taken jobs are told apart) smaller than the queue: the same depth
        small = await queue.backlog(sample=1)
        assert small is not None and small[0] == 2
    finally:
        await r.aclose()


async def test_redis_away_leaves_the_backlog_unknown() -> None:
    away = RunQueue("redis://127.0.0.1:1/0", "agentops:test:away")
    try:
        assert await away.backlog() is None
    finally:
        await away.close()


async def test_scrapes_within_a_second_share_one_read_of_redis(
    queue: RunQueue, redis_url: str, queue_name: str
) -> None:
    assert await queue.recent_backlog() == (0, 0.0)
    assert await queue.enqueue_runs([1, 2, 3])
    # many scrapes at once, right after: the read of a moment ago, not 50 reads of Redis
    # (a minute's age allowed here: on a loaded machine "right after" can be a second later)
    shown = await asyncio.gather(*(queue.recent_backlog(max_age=60) for _ in range(50)))
    assert set(shown) == {(0, 0.0)}
    await asyncio.sleep(1.1)
    later = await asyncio.gather(*(queue.recent_backlog() for _ in range(50)))
    assert {depth for depth, _ in filter(None, later)} == {3} and len(later) == 50
    assert await queue.backlog() is not None  # the uncached read is still fresh
