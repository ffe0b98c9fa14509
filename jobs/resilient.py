"""An ARQ worker that outlives its Redis.

ARQ's worker ends its main loop on the first Redis error, so a Redis restart leaves a
process that accepts nothing while the intake keeps accepting runs. Here a poll that
fails on Redis waits (backoff up to `MAX_WAIT`) and polls again: the connection pool
reconnects by itself once Redis answers. One log line when Redis goes away, one when it
is back. A job that could not record its end in Redis meanwhile is the sweep's to hand
over (its run's heartbeat stops).

`consuming()` says whether the loop has polled Redis lately: `/readyz` of `agentops dev`
reports it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from arq.worker import Worker

from app.queue import REDIS_ERRORS

log = logging.getLogger(__name__)
FIRST_WAIT = 0.5
MAX_WAIT = 10.0
REDIS_FAULTS = REDIS_ERRORS


class RedisAtStart(logging.Filter):
    """ARQ says "redis connection error …, 999998 retries remaining..." on every try while
    Redis is down at start: the first try becomes one line of ours, the others nothing;
    `came_up()` says when it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.down_since: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("redis connection error"):
            return True
        if self.down_since is not None:
            return False
        self.down_since = time.monotonic()
        record.msg = (
            "Redis unreachable at start (%s:%s %s): the worker waits for it, trying every %s s"
        )
        record.args = (*record.args[:3], RETRY_AT_START) if isinstance(record.args, tuple) else ()
        return True

    def came_up(self) -> None:
        if self.down_since is not None:
            log.warning("Redis is up after %.0f s", time.monotonic() - self.down_since)
            self.down_since = None


RETRY_AT_START = 5


class ResilientWorker(Worker):
    last_poll: float = 0.0  # monotonic time of the last poll that reached Redis
    _down_since: float | None = None
    _wait: float = FIRST_WAIT

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_FAULTS as exc:
            await self._redis_unreachable(exc)
            return
        self.last_poll = time.monotonic()
        if self._down_since is not None:
            log.warning(
                "Redis is back after %.0f s: the worker takes jobs again",
                time.monotonic() - self._down_since,
            )
            self._down_since = None
            self._wait = FIRST_WAIT

    async def _redis_unreachable(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "Redis unreachable (%s: %s): the worker waits for it and keeps trying "
                "(every %.0f s at most); running jobs go on",
                type(exc).__name__,
                exc,
                MAX_WAIT,
            )
        await asyncio.sleep(self._wait)
        self._wait = min(MAX_WAIT, self._wait * 2)

    def consuming(self, within: float) -> bool:
        return self._down_since is None and time.monotonic() - self.last_poll < within

    async def close(self) -> None:
        """Shut down even while Redis is away (ARQ's own close would raise)."""
        try:
            await super().close()
        except REDIS_FAULTS as exc:
            log.warning("worker stopped without saying so to Redis (%s)", type(exc).__name__)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
