"""The worker's periodic look for webhook deliveries that never reached AgentOps: the
GitHub App's, and those of the GitLab project hooks that point at AgentOps."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.forges.base import ForgeError
from app.forges.github.spec import KIND as GITHUB
from app.forges.gitlab.hook_events import GitLabHookEvents
from app.forges.redeliver import WINDOW_SECONDS, redeliver_lost
from app.workflow.context import WorkflowDeps

log = logging.getLogger(__name__)


def _first_time(ctx: dict[str, Any], forge: str) -> Callable[[str], Awaitable[bool]]:
    """Whether an event (its guid) is asked for again the first time: once per window."""
    deps: WorkflowDeps = ctx["deps"]
    prefix = f"{deps.settings.queue_name}:redelivered"
    if forge != GITHUB:  # keys of before GitLab's look stay valid
        prefix += f":{forge}"

    async def first_time(guid: str) -> bool:
        return bool(await ctx["redis"].set(f"{prefix}:{guid}", "1", nx=True, ex=WINDOW_SECONDS))

    return first_time


async def redeliver_github(ctx: dict[str, Any]) -> int:
    try:
        done = await redeliver_lost(ctx["forges"].connection(GITHUB), _first_time(ctx, GITHUB))
    except ForgeError as exc:
        log.warning("could not look for GitHub deliveries that did not arrive: %s", exc)
        return 0
    return done.asked


async def redeliver_gitlab(ctx: dict[str, Any]) -> int:
    settings = ctx["deps"].settings
    hooks = GitLabHookEvents(settings, f"{settings.public_url.rstrip('/')}/webhooks/gitlab")
    try:
        done = await redeliver_lost(hooks, _first_time(ctx, "gitlab"), forge="GitLab")
    except ForgeError as exc:
        log.warning("could not look for GitLab deliveries that did not arrive: %s", exc)
        return 0
    finally:
        await hooks.aclose()
    return done.asked
