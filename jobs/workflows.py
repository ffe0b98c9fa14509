"""ARQ job functions: execute a run; check labels against `.agentops.yml`; sweep runs and
label checks that never reached the queue."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry

from app.forges.threads import tracking
from app.log_format import work_fields
from app.store import DATABASE_ERRORS
from app.store import label_checks as label_check_store
from app.store import llm_reservations as reservation_store
from app.store import runs as run_store
from app.workflow.context import WorkflowDeps
from app.workflow.labels import check_labels
from app.workflow.runner import HANDED_OVER, TransientRunError, execute_run
from jobs.graceful import HAND_OVER, HandOver

log = logging.getLogger(__name__)


async def run_workflow(ctx: dict[str, Any], run_id: int) -> str:
    deps: WorkflowDeps = ctx["deps"]
    if deps.stopping.is_set():  # taken just as the worker began to stop
        ctx[HAND_OVER] = HandOver(run_id, claimed=False)
        return "not started: the worker is stopping"
    with work_fields(run_id=run_id), tracking() as forge_threads:
        status = await _with_retries(
            ctx, f"run {run_id}", lambda last_try: execute_run(deps, run_id, last_try=last_try)
        )
    if status == HANDED_OVER:  # jobs/graceful.py puts the job back once ARQ has ended it
        ctx[HAND_OVER] = HandOver(run_id, claimed=True, forge_threads=forge_threads)
    return status


async def check_repository_labels(ctx: dict[str, Any], check_id: int) -> str:
    """A label the operator does not map: start what `.agentops.yml` maps it to, if any."""
    deps: WorkflowDeps = ctx["deps"]
    return await _with_retries(
        ctx,
        f"label check {check_id}",
        lambda last_try: check_labels(deps, check_id, ctx["forges"].for_context, last_try),
    )


async def _with_retries(
    ctx: dict[str, Any], what: str, work: Callable[[bool], Awaitable[str]]
) -> str:
    """Run a job's work (told whether this is its last try); a transient failure or an
    unreachable database becomes an ARQ retry, until the last try."""
    deps: WorkflowDeps = ctx["deps"]
    job_try = int(ctx.get("job_try", 1))
    last_try = job_try >= deps.settings.job_max_tries
    try:
        return await work(last_try)
    except TransientRunError as exc:
        log.warning(
            "%s: transient failure on try %s, again in %.0f s: %s", what, job_try, exc.defer, exc
        )
        raise Retry(defer=exc.defer) from exc
    except DATABASE_ERRORS as exc:
        if last_try:
            raise
        log.warning("%s: database unavailable on try %s: %s", what, job_try, exc)
        raise Retry(defer=min(2.0**job_try, 60.0)) from exc


REQUEUE_PAGE = 500  # runs or label checks read, and checked in Redis, at a time


async def requeue_stale_runs(ctx: dict[str, Any]) -> int:
    """Hand the queue every queued run and pending label check whose job is not in Redis
    (accepted while Redis was down, lost on the way, or lost by Redis), and every running
    run whose worker died (its heartbeat stopped). Redis says which jobs are there: the
    sweep reads every queued run, a page at a time, and enqueues those without a job."""
    deps: WorkflowDeps = ctx["deps"]
    async with deps.db.admin() as conn:
        abandoned = await run_store.abandoned_runs_all_tenants(
            conn, deps.settings.stale_run_seconds
        )
        # The dead worker's calls will never be recorded: their budget holds go too.
        await reservation_store.release_reservations_of_runs_all_tenants(conn, abandoned)
    for run_id in abandoned:
        if await deps.queue.release_abandoned(run_id):
            log.warning(
                "run %s: its worker stopped, or its job ended without finishing it: "
                "handed to another worker (its job is in the queue)",
                run_id,
            )
    requeued: list[int] = []
    after: run_store.QueuedPage | None = None
    while True:
        async with deps.db.admin() as conn:
            run_ids, after = await run_store.queued_runs_all_tenants(
                conn, deps.settings.requeue_after_seconds, after, REQUEUE_PAGE
            )
        enqueued = await deps.queue.requeue_queued_runs(run_ids)
        if enqueued is None:  # Redis away: said by the queue; the next sweep goes on
            break
        requeued += enqueued
        if after is None:
            break
    if requeued:
        log.info("re-enqueued %d queued run(s): %s", len(requeued), _listed(requeued))
    return len(requeued) + len(abandoned) + await _requeue_label_checks(deps)


async def _requeue_label_checks(deps: WorkflowDeps) -> int:
    requeued: list[int] = []
    after = 0
    while True:
        async with deps.db.admin() as conn:
            check_ids = await label_check_store.pending_checks_all_tenants(
                conn, deps.settings.requeue_after_seconds, after, REQUEUE_PAGE
            )
        enqueued = await deps.queue.requeue_label_checks(check_ids)
        if enqueued is None:
            break
        requeued += enqueued
        if len(check_ids) < REQUEUE_PAGE:
            break
        after = check_ids[-1]
    if requeued:
        log.info("re-enqueued %d label check(s): %s", len(requeued), _listed(requeued))
    return len(requeued)


def _listed(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20])) + (f", … ({len(ids)} in all)" if len(ids) > 20 else "")
