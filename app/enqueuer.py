"""The intake's jobs, put in Redis after the answer: a webhook's 202 waits for its run to
be stored, never for Redis. Runs and label checks accepted meanwhile go in one round trip
per batch. What is not enqueued (Redis away, the process stopped first) has no job in
Redis, and the sweep (`jobs/workflows.py`), which looks there, enqueues it."""

from __future__ import annotations

import asyncio
import contextvars
import logging

from app.queue import RunQueue

log = logging.getLogger(__name__)

BATCH = 500
# A flush is one Redis call: gathering what arrives within this long
# keeps them off the database's commit path under load; a run starts no later for it.
GATHER_SECONDS = 0.02


class Enqueuer:
    def __init__(self, queue: RunQueue) -> None:
        self.queue = queue
        self._runs: list[int] = []
        self._checks: list[int] = []
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()
        self._task: asyncio.Task[None] | None = None

    def add_run(self, run_id: int) -> None:
        self._runs.append(run_id)
        self._kick()

    def add_label_check(self, check_id: int) -> None:
        self._checks.append(check_id)
        self._kick()

    async def settled(self) -> None:
        """Every job added so far has been tried (enqueued, or left to the sweep)."""
        await self._settled.wait()

    async def close(self, grace_seconds: float) -> None:
        try:
            async with asyncio.timeout(grace_seconds):
                await self.settled()
        except TimeoutError:
            log.warning(
                "stopping with %d runs and %d label checks not enqueued: the sweep will",
                len(self._runs),
                len(self._checks),
            )
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _kick(self) -> None:
        self._settled.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            # a context of its own: not the ids (log fields, trace) of the delivery that
            # happened to start it
            self._task = asyncio.create_task(
                self._loop(), name="agentops-enqueuer", context=contextvars.Context()
            )

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            while self._runs or self._checks:
                runs, self._runs = self._runs[:BATCH], self._runs[BATCH:]
                checks, self._checks = self._checks[:BATCH], self._checks[BATCH:]
                await self._flush(runs, checks)
            self._settled.set()

    async def _flush(self, runs: list[int], checks: list[int]) -> None:
        runs = runs if runs and await self.queue.enqueue_runs(runs) else []
        checks = checks if checks and await self.queue.enqueue_label_checks(checks) else []
        if runs or checks:
            named = (_named(runs, "run"), _named(checks, "label check"))
            log.info("queued: %s", "; ".join(n for n in named if n))


def _named(ids: list[int], what: str) -> str:
    """`run 7`, `runs 7, 8, 9`, `runs 7, 8, … (120 in all)`."""
    if not ids:
        return ""
    shown = ", ".join(str(n) for n in ids[:10])
    more = f", … ({len(ids)} in all)" if len(ids) > 10 else ""
    return f"{what}{'s' if len(ids) > 1 else ''} {shown}{more}"
