"""The worker's periodic look for webhook deliveries that never reached AgentOps: the
GitHub App's, and those of the GitLab project hooks that point at AgentOps."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.forges.base import ForgeError
from app.forges.github.spec import KIND as GITHUB
from app.forges.gitlab.hook_events import GitLabHookEvents
from app.forges.gitlab.spec import KIND as GITLAB
from app.forges.redeliver import WINDOW_SECONDS, HookDeliveries, redeliver_lost
from app.forges.registry import display_name
from app.store.tenants import project_ids_of_instance
from app.workflow.context import WorkflowDeps

log = logging.getLogger(__name__)
# An event asked for again may fail again (the web process down while the worker is up):
# it is asked for at the next looks too, this many times at most.
MAX_ASKS = 5


def may_ask_again(ctx: dict[str, Any], forge: str) -> Callable[[str], Awaitable[bool]]:
    """Whether an event (its guid) may be asked for again now: `MAX_ASKS` times in the
    window at most, whichever worker asks."""
    deps: WorkflowDeps = ctx["deps"]
    prefix = f"{deps.settings.queue_name}:redelivered"
    if forge != GITHUB:  # the keys of before other forges were looked at stay valid
        prefix += f":{forge}"

    async def may_ask(guid: str) -> bool:
        key = f"{prefix}:{guid}"
        async with ctx["redis"].pipeline(transaction=True) as both:
            both.incr(key)
            both.expire(key, WINDOW_SECONDS, nx=True)
            asked, _ = await both.execute()
        return int(asked) <= MAX_ASKS

    return may_ask


async def redeliver_github(ctx: dict[str, Any]) -> int:
    return await _redeliver(ctx, GITHUB, ctx["forges"].connection(GITHUB))


async def redeliver_gitlab(ctx: dict[str, Any]) -> int:
    deps: WorkflowDeps = ctx["deps"]
    instance = (deps.settings.gitlab_url or "").rstrip("/")
    async with deps.db.admin() as conn:
        projects = await project_ids_of_instance(conn, GITLAB, instance)
    if not projects:
        return 0
    hooks = GitLabHookEvents.of_service(deps.settings, projects)
    try:
        return await _redeliver(ctx, GITLAB, hooks)
    finally:
        await hooks.aclose()


async def _redeliver(ctx: dict[str, Any], kind: str, source: HookDeliveries) -> int:
    name = display_name(kind)
    try:
        done = await redeliver_lost(source, may_ask_again(ctx, kind), forge=name)
    except ForgeError as exc:
        log.warning("could not look for %s deliveries that did not arrive: %s", name, exc)
        return 0
    return done.asked
