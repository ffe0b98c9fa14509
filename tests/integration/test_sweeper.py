"""The recovery sweep runs on its own clock in every worker, one worker per interval,
whatever is waiting in the queue."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import redis.asyncio as aioredis

from app.config import Settings
from jobs.sweeper import sweep_forever
from jobs.worker import worker_settings


async def test_two_workers_sweep_once_per_interval_between_them(
    redis_url: str, queue_name: str
) -> None:
    swept: list[tuple[str, float]] = []
    backlog = aioredis.Redis.from_url(redis_url)
    # a deep backlog in the queue: the sweep does not wait behind it
    await backlog.zadd(queue_name, {f"job-{n}": n for n in range(500)})

    def worker(name: str) -> dict[str, Any]:
        async def sweep(ctx: dict[str, Any]) -> int:
            swept.append((name, time.monotonic()))
            return 0

        ctx: dict[str, Any] = {"redis": aioredis.Redis.from_url(redis_url)}
        ctx["task"] = asyncio.create_task(sweep_forever(ctx, sweep, f"{queue_name}:sweep", 0.5))
        return ctx

    started = time.monotonic()
    workers = [worker("a"), worker("b")]
    await asyncio.sleep(2.3)
    for ctx in workers:
        ctx["task"].cancel()
        await ctx["redis"].aclose()
    await backlog.delete(queue_name, f"{queue_name}:sweep")
    await backlog.aclose()
    assert swept[0][1] - started < 0.2  # at once on start-up
    assert 4 <= len(swept) <= 6  # about one per 0.5 s, not one per worker
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(swept)]
    assert all(0.3 < gap < 0.8 for gap in gaps), gaps


def test_the_sweep_is_not_a_job_of_the_queue() -> None:
    assert "cron_jobs" not in worker_settings(Settings())


async def test_a_stopped_worker_gives_back_its_turn_before_its_redis_closes(
    redis_url: str, queue_name: str
) -> None:
    """Else the worker started next waits out the turn (270 s of the GitHub redelivery's
    300) before asking for what GitHub could not deliver while the service was down."""
    lock = f"{queue_name}:redeliver"
    took_turn = asyncio.Event()

    async def redeliver(ctx: dict[str, Any]) -> int:
        took_turn.set()
        return 0

    ctx: dict[str, Any] = {"redis": aioredis.Redis.from_url(redis_url)}
    ctx["redeliverer"] = asyncio.create_task(sweep_forever(ctx, redeliver, lock, 300.0))
    await asyncio.wait_for(took_turn.wait(), 5)
    await worker_settings(Settings(queue_name=queue_name))["on_shutdown"](ctx)
    await ctx["redis"].aclose(close_connection_pool=True)  # what ARQ does next

    check = aioredis.Redis.from_url(redis_url)
    try:
        assert await check.exists(lock) == 0  # the next worker's turn is now
    finally:
        await check.delete(lock)
        await check.aclose()


async def test_a_worker_started_after_a_crash_redelivers_at_once(
    redis_url: str, queue_name: str
) -> None:
    """A worker killed without a goodbye keeps its turn for most of an interval; the next
    one asks for what GitHub could not deliver at its start all the same (each delivery is
    asked for once: jobs/redelivery.py remembers it), and the others keep their turns."""
    lock = f"{queue_name}:redeliver"
    ran: list[str] = []

    async def redeliver(ctx: dict[str, Any]) -> int:
        ran.append("redelivery")
        return 0

    ctx: dict[str, Any] = {"redis": aioredis.Redis.from_url(redis_url)}
    await ctx["redis"].set(lock, "killed-host:4242", px=270_000)  # the killed worker's turn
    task = asyncio.create_task(sweep_forever(ctx, redeliver, lock, 300.0, at_start=True))
    try:
        deadline = time.monotonic() + 5
        while not ran and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert ran == ["redelivery"]
        assert await ctx["redis"].get(lock) != b"killed-host:4242"  # its turn now
        await asyncio.sleep(0.5)
        assert ran == ["redelivery"]  # once, not once per poll
    finally:
        task.cancel()
        await asyncio.wait([task])
        await ctx["redis"].delete(lock)
        await ctx["redis"].aclose()
