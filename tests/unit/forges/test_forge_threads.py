"""A blocking forge call cut by its task still runs in its thread: `ForgeThreads` says when
it has returned, and waits for it a bounded time."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.forges.threads import in_thread, tracking


async def test_a_cut_call_is_counted_until_its_thread_returns() -> None:
    release = threading.Event()
    returned: list[str] = []

    def slow_post() -> str:
        release.wait(5)
        returned.append("posted")
        return "posted"

    with tracking() as threads:
        call = asyncio.create_task(in_thread(slow_post))
        await asyncio.sleep(0.05)
        call.cancel()  # the step is cut; the thread goes on
        with pytest.raises(asyncio.CancelledError):
            await call
        assert len(threads) == 1
        assert not await threads.settled(0.1)  # still under way: not settled in time
        release.set()
        began = time.monotonic()
        assert await threads.settled(5)
        assert time.monotonic() - began < 1
    assert returned == ["posted"] and len(threads) == 0


async def test_calls_outside_tracking_are_plain_threads() -> None:
    assert await in_thread(lambda: threading.current_thread().name) != "MainThread"
    with tracking() as threads:
        assert await threads.settled(0)  # nothing started: settled at once
