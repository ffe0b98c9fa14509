"""ARQ job functions: execute a run; sweep runs that never reached the queue."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from app.store import DATABASE_ERRORS
from app.store import runs as run_store
from app.workflow.context import WorkflowDeps
from app.workflow.runner import TransientRunError, execute_run

log = logging.getLogger(__name__)


async def run_workflow(ctx: dict[str, Any], run_id: int) -> str:
    deps: WorkflowDeps = ctx["deps"]
    job_try = int(ctx.get("job_try", 1))
    last_try = job_try >= deps.settings.job_max_tries
    try:
        return await execute_run(deps, run_id, last_try=last_try)
    except TransientRunError as exc:
        log.warning("run %s: transient failure on try %s, again in %.0f s: %s",
                    run_id, job_try, exc.defer, exc)
        raise Retry(defer=exc.defer) from exc
    except DATABASE_ERRORS as exc:
        if last_try:
            raise
        log.warning("run %s: database unavailable on try %s: %s", run_id, job_try, exc)
        raise Retry(defer=min(2.0**job_try, 60.0)) from exc


async def requeue_stale_runs(ctx: dict[str, Any]) -> int:
    """Hand the queue every run accepted while Redis was down (or lost on the way), and
    every running run whose worker died (its heartbeat stopped)."""
    deps: WorkflowDeps = ctx["deps"]
    async with deps.db.admin() as conn:
        run_ids = await run_store.runs_to_requeue_all_tenants(
            conn, deps.settings.requeue_after_seconds)
        abandoned = await run_store.abandoned_runs_all_tenants(
            conn, deps.settings.stale_run_seconds)
    for run_id in abandoned:
        log.warning("run %s: its worker stopped; handing it to another worker", run_id)
        await deps.queue.release_abandoned(run_id)
    for run_id in run_ids:
        if await deps.queue.enqueue_run(run_id):
            async with deps.db.admin() as conn:
                await run_store.mark_enqueued_all_tenants(conn, run_id)
    if run_ids:
        log.info("re-enqueued %d queued run(s): %s", len(run_ids), run_ids)
    return len(run_ids) + len(abandoned)
