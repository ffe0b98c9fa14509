"""One watcher keeps the webhook tasks' deadlines (app/budget_watch.py)."""

from __future__ import annotations

import asyncio

import pytest

from app.budget_watch import BudgetWatch


async def guarded(watch: BudgetWatch, seconds: float, budget: float) -> str:
    task: asyncio.Task[object] = asyncio.current_task()  # type: ignore[assignment]
    watch.enter(task, asyncio.get_running_loop().time() + budget)
    try:
        await asyncio.sleep(seconds)
        return "done"
    except asyncio.CancelledError:
        if not watch.leave(task):
            raise
        return "out of time"
    finally:
        watch.leave(task)


async def test_a_task_past_its_deadline_is_cut_within_a_tick() -> None:
    watch = BudgetWatch(tick=0.02)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await guarded(watch, 5, budget=0.1) == "out of time"
    assert 0.1 <= loop.time() - started < 0.1 + 0.02 + 0.2  # a tick late at most, and slack
    assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]


async def test_a_task_within_its_budget_is_left_alone_and_the_watcher_stops() -> None:
    watch = BudgetWatch(tick=0.01)
    results = await asyncio.gather(*(guarded(watch, 0.03, budget=1) for _ in range(20)))
    assert results == ["done"] * 20
    await asyncio.sleep(0.05)
    assert watch._watcher is None and not watch._deadlines


async def test_only_some_run_out_of_time() -> None:
    watch = BudgetWatch(tick=0.01)
    quick, slow = guarded(watch, 0.01, budget=0.2), guarded(watch, 5, budget=0.05)
    assert list(await asyncio.gather(quick, slow)) == ["done", "out of time"]


async def test_someone_else_s_cancellation_is_not_taken_for_the_budget() -> None:
    watch = BudgetWatch(tick=0.01)
    task = asyncio.create_task(guarded(watch, 5, budget=10))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
