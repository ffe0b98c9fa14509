"""Stopping a worker without losing or repeating work: SIGTERM, SIGINT, a rolling restart.

ARQ's own handler cancels every job at once, and a cancelled run was closed as failed
("timed out"). Here the first signal stops the poll from taking jobs and sets
`WorkflowDeps.stopping`: each run stops before its next step (app/workflow/context.py).
A step still going after `shutdown_grace_seconds` is cut (steps are resumable: the next
try finds what the cut one made by its marker). Either way the job ends and, once ARQ
has recorded its end, the run is handed over: its job goes back in the queue, checked,
and another worker goes on from the next step without waiting for the sweep. A cut step
may leave a GitLab call running in its thread (python-gitlab blocks; a thread cannot be
cancelled): the hand-over waits for those threads first (`forge_timeout_seconds` at
most), so that a note or merge request they post is there before the next worker looks
for it by its marker, and never lands after that worker posted its own. Then the worker
exits 0. A second signal stops at once, as ARQ does: the sweep hands over what was
running when its heartbeat stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any

from app.forges.threads import ForgeThreads
from app.workflow.context import WorkflowDeps
from jobs.resilient import ResilientWorker
from jobs.sweeper import SWEEP_EVERY

log = logging.getLogger(__name__)
HAND_OVER = "hand_over"  # the job's ctx key: a `HandOver` when its run is to go on elsewhere
SETTLE_SECONDS = 10.0  # after cutting the steps, for their runs to record the hand-over


@dataclass(frozen=True)
class HandOver:
    run_id: int
    claimed: bool  # False: the job began as the worker stopped, before taking the run
    forge_threads: ForgeThreads | None = None  # the job's forge calls (threads)


class GracefulWorker(ResilientWorker):
    """A `ResilientWorker` that drains on SIGTERM/SIGINT (its own handlers when
    `handle_signals`; else whoever owns the signals calls `stop`)."""

    def __init__(
        self, *, stopping: asyncio.Event, grace: float, handle_signals: bool, **options: Any
    ) -> None:
        super().__init__(handle_signals=False, **options)
        self.stopping = stopping
        self.grace = grace
        self._drain: asyncio.Task[None] | None = None
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.loop.add_signal_handler(sig, self.stop, sig)
            self._handle_signals = True  # ARQ's close() then cancels nothing itself

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """The first call drains (no new job; runs handed over within the grace), then
        ends the worker; a second ends it now."""
        if self._drain is not None:
            log.warning("%s again: stopping now; the sweep hands over what was running", sig.name)
            self.handle_sig(sig)
            return
        self.allow_pick_jobs = False
        self.stopping.set()
        log.info(
            "%s: the worker takes no new job; %d running end their step within %g s "
            "and are handed over",
            sig.name,
            self._running(),
            self.grace,
        )
        self._drain = self.loop.create_task(self._drain_then_end())

    async def stopped(self) -> None:
        """Wait for the drain that `stop` began."""
        if self._drain is not None:
            await asyncio.shield(self._drain)

    def _running(self) -> int:
        return sum(not t.done() for t in self.tasks.values())

    async def _drain_then_end(self) -> None:
        await self._wait_for_jobs(self.grace)
        if self._running():
            log.warning(
                "%d job(s) still running after %g s: their steps are cut",
                self._running(),
                self.grace,
            )
            for task in list(self.job_tasks.values()):
                task.cancel()
            await self._wait_for_jobs(SETTLE_SECONDS)
        if self.main_task is not None:
            self.main_task.cancel()

    async def _wait_for_jobs(self, seconds: float) -> None:
        """Until the jobs (and their hand-overs) end, `seconds` at most."""
        running = [t for t in self.tasks.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=seconds)


async def hand_over(ctx: dict[str, Any]) -> None:
    """ARQ's `after_job_end`: once ARQ has recorded the job's end (and the forge calls its
    cut step left running have ended), put the job of a run that is to go on elsewhere
    back in the queue (checked), and say so in one line."""
    handing: HandOver | None = ctx.get(HAND_OVER)
    if handing is None:
        return
    run_id = handing.run_id
    deps: WorkflowDeps = ctx["deps"]
    settings = deps.settings
    if not await _forge_calls_ended(handing, settings.forge_timeout_seconds + 1):
        log.warning(
            "run %s: a forge call of its cut step is still under way after %g s: not handed "
            "over now (what it posts could be posted again); the sweep hands it over once "
            "its heartbeat is %g s old",
            run_id,
            settings.forge_timeout_seconds + 1,
            settings.stale_run_seconds,
        )
        return
    # the same try: a hand-over is no failure of the run's
    if await deps.queue.hand_back(run_id, job_try=int(ctx.get("job_try", 1))):
        if handing.claimed:
            log.info("run %s: handed over; another worker goes on from its next step", run_id)
        else:
            log.info(
                "run %s: not started as the worker stops; its job is back in the queue", run_id
            )
    elif handing.claimed:
        log.warning(
            "run %s: could not hand over; the sweep does once its heartbeat is %g s old",
            run_id,
            settings.stale_run_seconds,
        )
    else:
        log.warning(
            "run %s: not started as the worker stops, and its job could not be put back in "
            "the queue; the sweep enqueues it once Redis is back (it checks every %g s)",
            run_id,
            SWEEP_EVERY,
        )


async def _forge_calls_ended(handing: HandOver, seconds: float) -> bool:
    threads = handing.forge_threads
    if threads is None or not len(threads):
        return True
    log.info(
        "run %s: waiting for %d forge call(s) its cut step left under way (%g s at most)",
        handing.run_id,
        len(threads),
        seconds,
    )
    return await threads.settled(seconds)
