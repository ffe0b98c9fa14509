"""How the forge clients retry (shared by GitHub and GitLab).

Two kinds of call:
- idempotent ones (reads, PUT/PATCH, creations the forge itself deduplicates such as
  reactions, commit statuses, or pull requests found first) are retried on 5xx and network
  faults by each client's `call_with_retries`, `RetryPolicy.attempts` tries in all;
- creations that a repeated POST would duplicate (comments, check runs, reviews) go through
  `create_once`: each POST is tried once, and a failure that may have been applied anyway
  is followed by a look for what it created before anything is posted again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from app.forges.base import ForgeRateLimited, ForgeTransientError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts in all, and the backoff between them. Tests use tiny delays."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Backoff before try `attempt + 1`: exponential, capped, with full jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


ONE_TRY = RetryPolicy(attempts=1)


async def create_once(
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    *,
    policy: RetryPolicy,
    action: str,
) -> T:
    """Create something a repeated POST would duplicate; never repeat the POST blindly.

    `create` makes one try (its client must not retry it). After a 5xx, a dropped
    connection or a timeout the forge may have applied the POST anyway, so after the
    backoff `find` looks for the thing: found is success. Only when it is not there is
    `create` tried again, up to `policy.attempts` times. A rate limit (nothing applied)
    and 4xx are raised at once; a `find` that fails raises its own error.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await create()
        except ForgeRateLimited:
            raise
        except ForgeTransientError as exc:
            error = exc
        await asyncio.sleep(policy.delay(attempt))
        found = await find()
        if found is not None:
            log.info("%s: the failed try (%s) had been applied; using what it made", action, error)
            return found
        if attempt >= policy.attempts:
            raise error
        log.warning(
            "%s failed (%s) and made nothing; try %d of %d",
            action,
            error,
            attempt + 1,
            policy.attempts,
        )
