"""Commands that work on code (implement, plan, test, review, fix): the steps that exist.

Each run gets a live check run (GitLab: commit status + one note), resolves the commit it
is about and clones the repository. Planning, editing and verifying come with the
workflows of issue #5; until then the run ends saying so, having changed nothing.
"""

from __future__ import annotations

import shutil
from typing import Any

from app import git
from app.forges.base import CheckRef
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.runs import Run
from app.workflow import progress
from app.workflow.checks import check_ref_from_json, check_ref_to_json
from app.workflow.context import RunContext, RunRefused

TITLES = {
    "implement": "Implementing the issue",
    "plan": "Planning",
    "test": "Writing tests",
    "review": "Reviewing",
    "fix": "Applying the requested change",
}


async def run_work(ctx: RunContext) -> None:
    run = ctx.run
    head = await ctx.step("prepare", lambda: _resolve_head(ctx))

    async def open_check() -> dict[str, Any]:
        update = progress.in_progress(run, await _steps(ctx), TITLES[run.command])
        ref = await ctx.forge.start_check(run.repo, head["head_sha"], update,
                                          note_target=ctx.target)
        await _store_check(ctx, ref)
        return {}

    await ctx.step("check", open_check)
    await ctx.step("clone", lambda: _clone(ctx, head))
    await refresh_check(ctx)
    raise RunRefused(
        f"`/agentops {run.command}` is not available in this version of AgentOps yet: "
        "the repository was cloned, but planning and editing are still being built. "
        "Nothing was changed."
    )


async def _resolve_head(ctx: RunContext) -> dict[str, Any]:
    run = ctx.run
    if run.target_kind == "pull_request":
        pull = await ctx.forge.get_pull_request(ctx.target)
        return {"head_sha": pull.head_sha, "ref": pull.head_ref, "base": pull.base_ref,
                "head_repo": pull.head_repo}
    repo = await ctx.forge.get_repo(run.repo)
    remote = await ctx.forge.git_remote(run.repo)
    listed = await git.run_git(["ls-remote", "--", remote.url, f"refs/heads/{repo.default_branch}"],
                               remote=remote)
    if not listed.strip():
        raise RunRefused(f"the default branch {repo.default_branch!r} has no commit yet")
    sha = listed.split()[0]
    return {"head_sha": sha, "ref": repo.default_branch, "base": repo.default_branch,
            "head_repo": run.repo}


async def _clone(ctx: RunContext, head: dict[str, Any]) -> dict[str, Any]:
    remote = await ctx.forge.git_remote(head["head_repo"])
    dest = ctx.deps.settings.workdir / f"run-{ctx.run.id}"
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    await git.clone(remote, dest, branch=head["ref"], depth=1)
    files = sum(1 for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)
    return {"files": files, "path": str(dest)}


async def _steps(ctx: RunContext) -> list[step_store.Step]:
    async with ctx.deps.db.tenant(ctx.run.tenant_id) as tc:
        return await step_store.list_steps(tc, ctx.run.id)


async def _store_check(ctx: RunContext, ref: CheckRef) -> None:
    async with ctx.deps.db.tenant(ctx.run.tenant_id) as tc:
        await run_store.set_check_ref(tc, ctx.run.id, check_ref_to_json(ref))


async def _current(ctx: RunContext) -> Run:
    async with ctx.deps.db.tenant(ctx.run.tenant_id) as tc:
        run = await run_store.get_run(tc, ctx.run.id)
    assert run is not None
    return run


async def refresh_check(ctx: RunContext) -> None:
    """Show the checklist as it is now on the run's check run."""
    run = await _current(ctx)
    if run.check_ref:
        update = progress.in_progress(run, await _steps(ctx), TITLES.get(run.command, ""))
        await ctx.forge.update_check(check_ref_from_json(run.check_ref), update)


async def close_own_check(ctx: RunContext, run: Run, conclusion: str,
                          error: str | None) -> None:
    """Complete this run's check run with its conclusion and the reason."""
    if not run.check_ref:
        return
    titles = {"success": "Done", "cancelled": "Cancelled", "timed_out": "Timed out"}
    update = progress.finished(run, await _steps(ctx), conclusion,
                               titles.get(conclusion, "Failed"), error or "")
    await ctx.forge.update_check(check_ref_from_json(run.check_ref), update)
    shutil.rmtree(ctx.deps.settings.workdir / f"run-{run.id}", ignore_errors=True)
