"""The worker's periodic look for GitHub deliveries that never reached AgentOps."""

from __future__ import annotations

import logging
from typing import Any

from app.forges.base import ForgeError
from app.forges.github.redeliver import WINDOW_SECONDS, redeliver_lost
from app.forges.github.spec import KIND as GITHUB
from app.workflow.context import WorkflowDeps

log = logging.getLogger(__name__)


async def redeliver_github(ctx: dict[str, Any]) -> int:
    deps: WorkflowDeps = ctx["deps"]
    redis = ctx["redis"]
    prefix = f"{deps.settings.queue_name}:redelivered"

    async def first_time(guid: str) -> bool:
        return bool(await redis.set(f"{prefix}:{guid}", "1", nx=True, ex=WINDOW_SECONDS))

    try:
        done = await redeliver_lost(ctx["forges"].connection(GITHUB), first_time)
    except ForgeError as exc:
        log.warning("could not look for GitHub deliveries that did not arrive: %s", exc)
        return 0
    return done.asked
