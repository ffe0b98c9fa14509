"""Blocking forge calls in threads, and waiting for the ones a cancelled task left running.

python-gitlab blocks, so each GitLab call runs in a thread. Cancelling the task that
awaits it (a stopping worker cuts a step, a timeout) does not stop the thread: its
request may still reach the forge later. A run that is to go on elsewhere waits for
its threads first (`ForgeThreads.settled`), so that what they create is there for the
next try to find by its marker, instead of landing after that try has posted its own.

`tracking()` gives the work under way (one job) its own `ForgeThreads`; `in_thread`
runs a call in a thread counted there (outside `tracking()`, a plain thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


class ForgeThreads:
    """The threads of blocking forge calls that one piece of work started, until they end."""

    def __init__(self) -> None:
        self._running: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        """How many of them are still running."""
        return len(self._running)

    async def run(self, fn: Callable[[], T]) -> T:
        """`fn()` in a thread, counted as running until the thread itself returns (even
        when the awaiting task is cancelled first)."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        self._running.add(ended)
        ended.add_done_callback(self._running.discard)

        def call() -> T:
            try:
                return fn()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    loop.call_soon_threadsafe(_end, ended)

        return await asyncio.to_thread(call)

    async def settled(self, within: float) -> bool:
        """Wait until every thread has returned, `within` seconds at most; True when none
        runs any more."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=within)
        return not self._running


def _end(ended: asyncio.Future[None]) -> None:
    if not ended.done():
        ended.set_result(None)


_current: ContextVar[ForgeThreads | None] = ContextVar("forge_threads", default=None)


@contextlib.contextmanager
def tracking() -> Iterator[ForgeThreads]:
    """Count the forge threads started within (tasks started within included)."""
    threads = ForgeThreads()
    token = _current.set(threads)
    try:
        yield threads
    finally:
        _current.reset(token)


async def in_thread(fn: Callable[[], T]) -> T:
    """`fn()` in a thread, counted by the `tracking()` around the caller, if any."""
    threads = _current.get()
    if threads is None:
        return await asyncio.to_thread(fn)
    return await threads.run(fn)
