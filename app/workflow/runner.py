"""Executing one run: claim it, authorise, acknowledge, do the command, close it.

Safe to call twice for the same run (ARQ may run a job twice): finished runs are left
alone and finished steps are not repeated. When the worker stops (`WorkflowDeps.stopping`)
a run stops between steps, or where its step was cut, and `execute_run` answers
`HANDED_OVER`: the run stays running for the next worker to go on with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from app import tracing
from app.commands import SPEC, TargetKind, wrong_target_reason
from app.forges.base import Forge, ForgeAPIError, ForgeError, ForgeTransientError, Target
from app.forges.markers import run_key
from app.forges.registry import wording_for
from app.git import GitError
from app.llm.errors import LLMError
from app.metrics.runs import timed_run
from app.sandbox import SandboxUnavailable
from app.sandbox.workcopy import TreeTooLarge
from app.step_records import ACKNOWLEDGE, AUTHORIZE, VERIFY, Authorized, Nothing, Verified
from app.store import DATABASE_ERRORS
from app.store import refusal_notices as refusal_store
from app.store import runs as run_store
from app.store.runs import Run
from app.workflow import control, provenance, work
from app.workflow.closing import Closing
from app.workflow.context import (
    RunCancelled,
    RunContext,
    RunHandedOver,
    RunRefused,
    WorkflowDeps,
)
from app.workflow.failures import failure_record, public_failure

log = logging.getLogger(__name__)

Handler = Callable[[RunContext], Awaitable[None]]
HANDED_OVER = "handed over"  # `execute_run`'s answer when the worker stopped under the run


def _handler(command: str) -> Handler:
    """A control command's own answer (app/workflow/control.py), else the work on code."""
    if SPEC[command].workflow == "control":
        return control.ANSWERS[command]
    return work.run_work


class TransientRunError(Exception):
    """Try the job again later; `defer` seconds from now."""

    def __init__(self, message: str, defer: float) -> None:
        super().__init__(message)
        self.defer = defer


async def execute_run(deps: WorkflowDeps, run_id: int, last_try: bool = False) -> str:
    """Execute `run_id`; returns its final status, or raises `TransientRunError`."""
    async with deps.db.admin() as conn:
        tenant_id = await run_store.run_tenant_all_tenants(conn, run_id)
    if tenant_id is None:
        log.error("run %s does not exist", run_id)
        return "missing"
    async with deps.db.tenant(tenant_id) as tc:
        run = await run_store.claim_run(tc, run_id)
        if run is None:
            current = await run_store.get_run(tc, run_id)
            return current.status if current else "missing"
    heartbeat = asyncio.create_task(_beat(deps, run_id))
    try:
        with tracing.run_span(run), timed_run(run.command, retried=TransientRunError) as ended:
            ended.status = await _execute_claimed(deps, run, last_try)
        return ended.status
    finally:
        heartbeat.cancel()


async def _beat(deps: WorkflowDeps, run_id: int) -> None:
    """Prove this worker is alive while it runs `run_id` (see the sweep in jobs/)."""
    while True:
        await asyncio.sleep(deps.settings.heartbeat_seconds)
        try:
            async with deps.db.admin() as conn:
                await run_store.touch_heartbeat_all_tenants(conn, run_id)
        except DATABASE_ERRORS as exc:
            log.warning("run %s: heartbeat not recorded: %s", run_id, exc)


async def _execute_claimed(deps: WorkflowDeps, run: Run, last_try: bool) -> str:
    forge = await deps.forge_for(run)
    ctx = RunContext(deps, run, forge)
    await ctx.events.record("run_started", {"attempt": run.attempts, "command": run.command})
    try:
        await _execute_and_close(ctx, last_try)
    except RunHandedOver:
        return HANDED_OVER
    except asyncio.CancelledError:
        # ARQ aborted the job (cancel), it timed out, or the stopping worker cut its step
        # (or the close after a failure or a cancel: that close goes on from its record).
        if await asyncio.shield(_close_after_interrupt(ctx)):
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()  # the stopping worker's own cut: the job ends, handed over
        return HANDED_OVER
    finally:
        await ctx.aclose()
    async with deps.db.tenant(run.tenant_id) as tc:
        final = await run_store.get_run(tc, run.id)
    return final.status if final else "missing"


async def _execute_and_close(ctx: RunContext, last_try: bool) -> None:
    """The run's work and its close, however it ends, but for an interruption."""
    try:
        await _follow_the_repository(ctx)  # before anything is said in the repository
        run = ctx.run
        closing = Closing.recorded(run)
        if closing is not None:  # an earlier try was cut mid-close: only the rest is left
            await _finish_close(ctx, run, closing)
        elif run.cancel_requested:  # asked while no worker ran it (run_store.claim_run)
            raise RunCancelled
        else:
            await _execute(ctx)
    except RunCancelled:
        await _close(ctx, "cancelled", "cancelled", None)
    except RunHandedOver:
        raise
    except RunRefused as exc:
        await _fail(ctx, exc, tell=not (exc.told or exc.silent))
    except ForgeTransientError as exc:
        defer = getattr(exc, "retry_after", None)
        if not last_try:
            raise TransientRunError(str(exc), float(defer or 5.0)) from exc
        log.warning("run %s: the forge kept failing on the last try: %s", ctx.run.id, exc)
        await _fail(ctx, exc)
    except (ForgeError, LLMError, SandboxUnavailable, TreeTooLarge, GitError) as exc:
        log.warning("run %s failed: %s", ctx.run.id, failure_record(exc))
        await _fail(ctx, exc)
    except Exception as exc:
        log.exception("run %s failed with an internal error", ctx.run.id)
        await _fail(ctx, exc)


async def _execute(ctx: RunContext) -> None:
    run = ctx.run

    async def verify() -> Verified:
        try:
            proven = await provenance.read_back(ctx.forge, ctx.target, run)
        except provenance.TriggerRefused as exc:
            raise RunRefused(
                f"the forge does not confirm this request: {exc}", silent=True
            ) from None
        return Verified(author=proven.author)

    async def acknowledge() -> Nothing:
        await ctx.forge.add_reaction(ctx.target, run.comment_id, "eyes")
        return Nothing()

    async def authorize() -> Authorized:
        if await ctx.forge.has_write_access(run.repo, author):
            return Authorized(allowed=True, user=author)
        settings = ctx.deps.settings
        async with ctx.deps.db.tenant(run.tenant_id) as tc:
            rank = await refusal_store.record_refusal(
                tc, run.id, run.repo, author, settings.refusal_notice_window_seconds
            )
        return Authorized(
            allowed=False, user=author, refusal=rank, tell=rank <= settings.refusal_notice_limit
        )

    author = run.requested_by
    if provenance.needs_read_back(run):
        # Nothing is done in the project (not even the acknowledgement) for a request
        # the forge's API does not confirm.
        author = (await ctx.step(VERIFY, verify)).author
    # Authorised first: what is posted back to people without write access is limited.
    authorized = await ctx.step(AUTHORIZE, authorize)
    if not authorized.allowed:
        await _refuse_without_write_access(ctx, authorized, acknowledge)
    await ctx.step(ACKNOWLEDGE, acknowledge)
    kind: TargetKind = "pull_request" if run.target_kind == "pull_request" else "issue"
    reason = wrong_target_reason(run.command, kind)  # type: ignore[arg-type]
    if reason is not None:
        await ctx.reply("wrong-target", f"{reason}. Write `/agentops help` for the list.")
        raise RunRefused(reason, told=True)
    await _handler(run.command)(ctx)
    await _close(ctx, "succeeded", str(ctx.result.get("conclusion", "success")), None)


async def _follow_the_repository(ctx: RunContext) -> None:
    """Address the run's repository by the name it has now, found by its id. After a
    rename the old name may belong to another repository, whose issue of the same number
    the run must not work on; a repository gone, or out of the App's reach, ends the run
    with nothing posted (its name would reach the other one)."""
    run = ctx.run
    try:
        name = await ctx.forge.repository_name(run.repo, run.context)
    except ForgeAPIError as exc:
        if exc.status != 404:
            raise
        raise RunRefused(
            f"the repository this run was filed on ({run.repo}) is gone or out of reach",
            silent=True,
        ) from None
    if name is not None and name != run.repo:
        log.info("run %s: its repository %s is %s now", run.id, run.repo, name)
        ctx.run = dataclasses.replace(run, repo=name)


async def _refuse_without_write_access(
    ctx: RunContext, authorized: Authorized, acknowledge: Callable[[], Awaitable[Nothing]]
) -> NoReturn:
    run = ctx.run
    reason = f"@{run.requested_by} has no write access"
    if not authorized.tell:
        settings = ctx.deps.settings
        log.warning(
            "run %s: %s to %s; nothing posted: refusal %s within %g s (limit %s)",
            run.id,
            reason,
            run.repo,
            authorized.refusal,
            settings.refusal_notice_window_seconds,
            settings.refusal_notice_limit,
        )
        raise RunRefused(
            f"{reason}; nothing posted: more than {settings.refusal_notice_limit} refusals "
            f"for them in this repository within {settings.refusal_notice_window_seconds:g} s",
            silent=True,
        )
    await ctx.step(ACKNOWLEDGE, acknowledge)
    await ctx.reply(
        "refused",
        (
            f"Sorry @{run.requested_by}, only people with write access to this repository "
            "can ask AgentOps to work here."
        ),
    )
    raise RunRefused(reason, told=True)


async def _fail(ctx: RunContext, exc: BaseException, tell: bool = True) -> None:
    """Close the run as failed: people are told `public_failure`'s text (the check run,
    and a comment when `tell`); the run's record keeps the full, redacted, detail."""
    public = public_failure(exc, ctx.run.forge, ctx.run.id)
    record = public.text
    if not isinstance(exc, RunRefused) or exc.detail:
        record += f"\n\n{failure_record(exc)}"
    ctx.result["failure"] = {"kind": public.kind, "text": public.text}
    await ctx.events.refused_or_failed(
        "refusal" if public.kind == "refused" else "error", public.text
    )
    said = "stopped" if public.kind == "refused" else "failed"
    await _close(ctx, "failed", "failure", public.text, tell=tell, record=record, said=said)


async def _close(
    ctx: RunContext,
    status: str,
    conclusion: str,
    error: str | None,
    tell: bool = False,
    record: str | None = None,
    said: str = "failed",
) -> None:
    """Close the run; `error` is the text for people, `record` (by default `error`) what
    the run's record keeps. A close an earlier try began goes on with its own outcome."""
    run = ctx.run
    async with ctx.deps.db.tenant(run.tenant_id) as tc:
        fresh = await run_store.get_run(tc, run.id)
        if fresh is None or fresh.finished:
            return
        closing = Closing.recorded(fresh)
        if closing is None:
            closing = Closing(status, conclusion, error, record or error, tell, said)
            await run_store.record_closing(tc, run.id, closing.as_json(), ctx.result)
    await _finish_close(ctx, fresh, closing)


async def _finish_close(ctx: RunContext, fresh: Run, closing: Closing) -> None:
    """What is left of `closing` (app/workflow/closing.py), each part once."""
    run = ctx.run
    # The check run closes first: whoever sees the run finished sees its check closed too.
    if not closing.check_closed:
        try:
            await work.close_own_check(ctx, fresh, closing.conclusion, closing.error)
        except ForgeError as exc:
            shown = wording_for(run.forge).progress_display
            log.warning("run %s: could not close its %s: %s", run.id, shown, exc)
        async with ctx.deps.db.tenant(run.tenant_id) as tc:
            await run_store.mark_check_closed(tc, run.id)
    async with ctx.deps.db.tenant(run.tenant_id) as tc:
        closed = await run_store.finish_run(tc, run.id, closing.status, closing.record, ctx.result)
    if closed:
        await ctx.events.run_ended(closing.status)
    if closed and closing.tell and closing.error:
        try:
            await tell_failure(ctx.forge, ctx.target, run, closing.said, closing.error)
        except ForgeError as exc:
            log.warning("run %s: could not tell why it failed: %s", run.id, exc)


async def tell_failure(forge: Forge, target: Target, run: Run, said: str, error: str) -> None:
    """Say on `target` (where the run was asked) that the run `said` ("failed",
    "stopped"), why and what to do: one comment per run."""
    await forge.create_comment(
        target,
        f"AgentOps run {run.id} (`/agentops {run.command}`) {said}: " + _said_in_a_comment(error),
        run_key(run.id, "failed"),
    )


def _said_in_a_comment(error: str) -> str:
    """The why and what to do (the first paragraph): what follows it, such as test output
    from the sandbox or names a steered model chose, stays in the checklist, where it
    notifies nobody it mentions."""
    first, _, rest = error.partition("\n\n")
    return first + (" The run's checklist has the details." if rest.strip() else "")


async def _close_after_interrupt(ctx: RunContext) -> bool:
    """Close an interrupted run; False when the worker is stopping and the run goes on
    elsewhere (nothing closed)."""
    async with ctx.deps.db.tenant(ctx.run.tenant_id) as tc:
        cancelled = await run_store.is_cancel_requested(tc, ctx.run.id)
    if cancelled:
        await _close(ctx, "cancelled", "cancelled", None)
    elif ctx.deps.stopping.is_set():
        return False
    else:
        await _close(
            ctx, "failed", "timed_out", "the run took longer than the job timeout", tell=True
        )
    return True
