"""Deadlines of the tasks answering webhooks, kept by one watcher instead of a timer each.

`asyncio.timeout_at` costs ~4 µs a delivery (a timer made, pushed on the loop's heap and
cancelled), about a seventh of what an ignored delivery costs the web process. Here a
delivery's task is put in a dict with its deadline, and one task of the process wakes
every `TICK` seconds while any are in it, cancelling those past their deadline: a budget
is kept to within a tick, and the caller tells its own cancellation from anyone else's
(`expired`), as `asyncio.timeout` does.
"""

from __future__ import annotations

import asyncio

TICK = 0.05  # seconds: how late past its deadline a delivery may be cut


class BudgetWatch:
    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._watcher: asyncio.Task[None] | None = None

    def enter(self, task: asyncio.Task[object], deadline: float) -> None:
        """Watch `task` until `leave`: cancelled once the loop's time passes `deadline`."""
        self._deadlines[task] = deadline
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch(), name="agentops-budget-watch"
            )

    def leave(self, task: asyncio.Task[object]) -> bool:
        """Stop watching `task`; True when the watcher cancelled it (its budget ran out)
        and no one else did: that cancellation is then withdrawn, and the caller answers
        for the budget instead."""
        self._deadlines.pop(task, None)
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() == 0

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._deadlines:
                await asyncio.sleep(self.tick)
                now = loop.time()
                for task, deadline in list(self._deadlines.items()):
                    if deadline <= now and task not in self._expired:
                        self._expired.add(task)
                        task.cancel()
        finally:
            self._watcher = None
