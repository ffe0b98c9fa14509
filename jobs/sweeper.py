"""The recovery sweep on its own schedule, whatever the depth of the queue it repairs.

ARQ's cron jobs go through the same queue as the runs, so after a restart with a backlog
the sweep waited behind it (63–170 s late). Here each worker runs it in a task of its own
every `interval` seconds; a short Redis lock lets one worker per interval do it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from app.store import DATABASE_ERRORS
from jobs.resilient import REDIS_FAULTS

log = logging.getLogger(__name__)
Sweep = Callable[[dict[str, Any]], Awaitable[int]]


async def sweep_forever(ctx: dict[str, Any], sweep: Sweep, lock_key: str, interval: float) -> None:
    me = f"{socket.gethostname()}:{os.getpid()}"
    database_down = False
    while True:
        try:
            if await ctx["redis"].set(lock_key, me, nx=True, px=int(interval * 900)):
                await sweep(ctx)
            if database_down:
                log.warning("the recovery sweep reaches the database again")
                database_down = False
        except REDIS_FAULTS:
            pass  # the worker's poll loop says when Redis goes and comes back
        except DATABASE_ERRORS as exc:
            if not database_down:
                log.warning("the recovery sweep cannot reach the database (%s)", exc)
                database_down = True
        except Exception:
            log.exception("the recovery sweep failed; it runs again in %.0f s", interval)
        await asyncio.sleep(interval)
