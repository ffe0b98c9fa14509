"""Periodic work of the workers on its own schedule, whatever the depth of the queue.

ARQ's cron jobs go through the same queue as the runs, so after a restart with a backlog
the sweep waited behind it (63–170 s late). Here each worker runs it in a task of its own
every `interval` seconds; a short Redis lock lets one worker per interval do it. The
GitHub redelivery (jobs/redelivery.py) runs the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from app.store import DATABASE_ERRORS
from jobs.resilient import REDIS_FAULTS

log = logging.getLogger(__name__)
SWEEP_EVERY = 5.0  # seconds between recovery sweeps (one worker per interval)
Sweep = Callable[[dict[str, Any]], Awaitable[int]]


async def sweep_forever(
    ctx: dict[str, Any],
    sweep: Sweep,
    lock_key: str,
    interval: float,
    name: str = "the recovery sweep",
    at_start: bool = False,
) -> None:
    """Run `sweep` now and every `interval` seconds (one worker per interval). With
    `at_start`, the first run takes the turn whoever holds it: a worker killed without a
    goodbye (SIGKILL, the OOM killer) leaves its turn held for most of an interval."""
    me = f"{socket.gethostname()}:{os.getpid()}"
    try:
        await _every(ctx, sweep, lock_key, interval, name, me, at_start)
    finally:  # stopping: a worker started next need not wait for this one's turn to end
        with contextlib.suppress(*REDIS_FAULTS):
            if await ctx["redis"].get(lock_key) in (me, me.encode()):
                await ctx["redis"].delete(lock_key)


async def _every(
    ctx: dict[str, Any],
    sweep: Sweep,
    lock_key: str,
    interval: float,
    name: str,
    me: str,
    take_turn: bool,
) -> None:
    database_down = False
    while True:
        try:
            if await ctx["redis"].set(lock_key, me, nx=not take_turn, px=int(interval * 900)):
                take_turn = False
                await sweep(ctx)
            if database_down:
                log.warning("%s reaches the database again", name)
                database_down = False
        except REDIS_FAULTS:
            pass  # the worker's poll loop says when Redis goes and comes back
        except DATABASE_ERRORS as exc:
            if not database_down:
                log.warning("%s cannot reach the database (%s)", name, exc)
                database_down = True
        except Exception:
            log.exception("%s failed; it runs again in %.0f s", name, interval)
        await asyncio.sleep(interval)
