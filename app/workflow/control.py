"""`help`, `status`, `cancel` and `retry`: answered without code or a model."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from app.commands import CONTROL, help_text
from app.step_records import CANCEL, RETRY, CancelAsked, RetryAsked
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.runs import Run
from app.workflow import progress
from app.workflow.checks import check_ref_from_json
from app.workflow.context import RunContext

log = logging.getLogger(__name__)


async def run_help(ctx: RunContext) -> None:
    await ctx.reply("help", help_text(ctx.run.context.get("unknown_command")))


async def run_status(ctx: RunContext) -> None:
    run = ctx.run
    async with ctx.deps.db.tenant(run.tenant_id) as tc:
        runs = await run_store.target_runs(tc, run)
        listed = [await step_store.run_snapshot(tc, r) for r in runs if r.id != run.id]
    await ctx.reply("status", progress.status_report(listed))


async def run_cancel(ctx: RunContext) -> None:
    async def cancel() -> CancelAsked:
        run = ctx.run
        referred = run.context.get("refers_to_run")
        async with ctx.deps.db.tenant(run.tenant_id) as tc:
            if referred is not None:
                found = await run_store.get_run(tc, int(referred))
                candidates = [found] if found is not None and not found.finished else []
            else:
                candidates = await run_store.active_work_runs(tc, run)
            cancelled = [
                c
                for c in [await run_store.request_cancel(tc, c.id) for c in candidates]
                if c is not None
            ]
        for victim in cancelled:
            await ctx.deps.queue.abort_run(victim.id)
            if victim.status == "cancelled":  # it never started: nobody else closes its check
                await close_check(
                    ctx,
                    victim,
                    "cancelled",
                    "Cancelled",
                    f"Cancelled by @{run.requested_by} before it started.",
                )
        return CancelAsked(cancelled=[c.id for c in cancelled])

    ids = (await ctx.step(CANCEL, cancel)).cancelled
    if ids:
        names = ", ".join(f"run {i}" for i in ids)
        await ctx.reply("cancel", f"Cancelling {names}, as @{ctx.run.requested_by} asked.")
    else:
        await ctx.reply("cancel", "Nothing to cancel: no AgentOps run is in progress here.")


async def run_retry(ctx: RunContext) -> None:
    async def retry() -> RetryAsked:
        run = ctx.run
        referred = run.context.get("refers_to_run")
        async with ctx.deps.db.tenant(run.tenant_id) as tc:
            failed: Run | None
            if referred is not None:
                failed = await run_store.get_run(tc, int(referred))
                if failed is not None and failed.status not in ("failed", "cancelled"):
                    return RetryAsked(reason=f"run {failed.id} is {failed.status}")
            else:
                failed = await run_store.last_failed_work_run(tc, run)
            if failed is None:
                return RetryAsked(reason="no failed run here")
            new_id = await run_store.create_retry(
                tc, failed, run.requested_by, trigger_key=f"retry:{run.id}"
            )
        await ctx.deps.queue.enqueue_run(new_id)
        return RetryAsked(retry=new_id, of=failed.id)

    asked = await ctx.step(RETRY, retry)
    if asked.retry:
        await ctx.reply("retry", f"Retrying run {asked.of} as run {asked.retry}.")
    else:
        await ctx.reply("retry", f"Nothing to retry: {asked.reason}.")


async def close_check(ctx: RunContext, run: Run, conclusion: str, title: str, detail: str) -> None:
    """Close another run's check run (GitHub) or status (GitLab), if it has one."""
    if not run.check_ref:
        return
    async with ctx.deps.db.tenant(run.tenant_id) as tc:
        now = await step_store.run_snapshot(tc, run)
    ref = check_ref_from_json(run.check_ref)
    url = progress.run_page_url(ctx.deps.settings, run.id)
    await ctx.forge.update_check(ref, progress.finished(now, conclusion, title, detail, url))


# Each control command's answer is `run_<name>` above: a `CommandSpec` of workflow
# "control" without one fails here, at import.
ANSWERS: dict[str, Callable[[RunContext], Awaitable[None]]] = {
    name: globals()[f"run_{name}"] for name in sorted(CONTROL)
}
