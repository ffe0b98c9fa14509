"""Commands that work on code: a live check run, then the command's own steps.

Each run gets a check run (GitLab: commit status + one note) on the commit it is about.
`implement` and `plan` work on issues (app/workflow/implement.py); `test`
(app/workflow/pr_tests.py), `fix` (app/workflow/pr_fix.py) and `review`
(app/workflow/review.py) on pull requests.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable

from app import git
from app.commands import SPEC
from app.forges.base import CheckRef, CheckUpdate, Forge, Target
from app.step_records import CHECK, PREPARE, Head, Nothing
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.runs import Run
from app.workflow import progress
from app.workflow.checks import check_ref_from_json, check_ref_to_json
from app.workflow.context import RunContext, RunRefused
from app.workflow.implement import run_issue_work
from app.workflow.pr_fix import run_pull_fix
from app.workflow.pr_tests import run_pull_tests
from app.workflow.review import run_review
from app.workflow.sandbox_policy import release_scratch
from app.workflow.workspace import run_folder

# The workflows on code that `CommandSpec.workflow` names (app/commands.py).
WORKFLOWS: dict[str, Callable[[RunContext, Head], Awaitable[None]]] = {
    "issue_work": run_issue_work,
    "pull_tests": run_pull_tests,
    "pull_fix": run_pull_fix,
    "review": run_review,
}


async def run_work(ctx: RunContext) -> None:
    run = ctx.run
    head = await ctx.step(PREPARE, lambda: _resolve_head(ctx))

    async def open_check(again: bool) -> Nothing:
        update = progress.in_progress(
            await _snapshot(ctx, run), progress.title_for(run), ctx.page_url
        )
        ref = await open_check_once(ctx.forge, run, head, ctx.target, update, again)
        await _store_check(ctx, ref)
        return Nothing()

    await ctx.resumable_step(CHECK, open_check)
    spec = SPEC.get(run.command)
    workflow = WORKFLOWS.get(spec.workflow) if spec is not None else None
    if workflow is not None:
        await workflow(ctx, head)
        return
    raise RunRefused(
        f"`/agentops {run.command}` is not available in this version of AgentOps yet. "
        "Nothing was changed."
    )


async def open_check_once(
    forge: Forge, run: Run, head: Head, target: Target, update: CheckUpdate, again: bool
) -> CheckRef:
    """The run's check run on its head commit (GitLab: a commit status, and a note on
    `target`); `again`: an earlier try may have made it before its worker died."""
    earlier = (
        await forge.find_check(run.repo, head.head_sha, str(run.id), target=target)
        if again
        else None
    )
    if earlier is None:
        return await forge.start_check(run.repo, head.head_sha, update, target=target)
    return await forge.update_check(earlier, update)


async def _resolve_head(ctx: RunContext) -> Head:
    run = ctx.run
    if run.target_kind == "pull_request":
        pull = await ctx.forge.get_pull_request(ctx.target)
        return Head(
            head_sha=pull.head_sha,
            ref=pull.head_ref,
            base=pull.base_ref,
            head_repo=pull.head_repo,
        )
    repo = await ctx.forge.get_repo(run.repo)
    remote = await ctx.forge.git_remote(run.repo)
    listed = await git.run_git(
        ["ls-remote", "--", remote.url, f"refs/heads/{repo.default_branch}"], remote=remote
    )
    if not listed.strip():
        raise RunRefused(f"the default branch {repo.default_branch!r} has no commit yet")
    return Head(
        head_sha=listed.split()[0],
        ref=repo.default_branch,
        base=repo.default_branch,
        head_repo=run.repo,
    )


async def _snapshot(ctx: RunContext, run: Run) -> step_store.RunSnapshot:
    async with ctx.deps.db.tenant(ctx.run.tenant_id) as tc:
        return await step_store.run_snapshot(tc, run)


async def _store_check(ctx: RunContext, ref: CheckRef) -> None:
    async with ctx.deps.db.tenant(ctx.run.tenant_id) as tc:
        await run_store.set_check_ref(tc, ctx.run.id, check_ref_to_json(ref))


CLOSING_TITLES = {
    "success": "Done",
    "neutral": "Delivered, unproven",
    "cancelled": "Cancelled",
    "timed_out": "Timed out",
}


async def close_check_with(
    forge: Forge,
    now: step_store.RunSnapshot,
    conclusion: str,
    error: str | None,
    details_url: str | None = None,
) -> None:
    """Complete the run's check run (if it has one) with its steps, `conclusion` and the
    reason people are told (`error`)."""
    if not now.run.check_ref:
        return
    title = CLOSING_TITLES.get(conclusion, "Failed")
    update = progress.finished(now, conclusion, title, error or "", details_url)
    await forge.update_check(check_ref_from_json(now.run.check_ref), update)


async def close_own_check(ctx: RunContext, run: Run, conclusion: str, error: str | None) -> None:
    """Complete this run's check run with its conclusion and the reason."""
    if not run.check_ref:
        return
    await close_check_with(ctx.forge, await _snapshot(ctx, run), conclusion, error, ctx.page_url)
    # In a thread: a large checkout takes seconds to delete, and the worker's other jobs
    # share this event loop.
    folder = run_folder(ctx.deps.settings.workdir, run.id)
    await release_scratch(folder)  # its sized scratch area first (app/sandbox/disk.py)
    await asyncio.to_thread(shutil.rmtree, folder, True)
