"""A change delivered back to a pull request: a reproducible commit on its head commit
(fixed date: the run's creation), pushed to a branch of the run's repository. A resumed
run makes the same commit, so pushing it again adds nothing.
"""

from __future__ import annotations

from pathlib import Path

from app import git
from app.forges.base import GitRemote
from app.workflow import workspace
from app.workflow.context import RunContext, refuse
from app.workflow.deliver import commit_for_run
from app.workflow.pr_work import PullWork


async def commit_change(
    work: PullWork, diff: str, message: str, parent: str | None = None
) -> tuple[Path, str]:
    """A reproducible commit of `diff` on `parent` (default: the head commit); the
    checkout and the commit's sha. A diff that does not apply raises `GitError`."""
    ctx = work.ctx
    root = await work.clean_checkout()
    if parent is not None:
        await workspace.reset_to(root, parent)
    await workspace.apply_diff(root, diff)
    sha = await commit_for_run(ctx, root, message, diff)
    return root, sha


async def push_commit(
    ctx: RunContext, root: Path, sha: str, branch: str, *, force: bool = False
) -> None:
    """Push `sha` to `branch` of the run's repository.

    A rejected push that finds `sha` already on the branch (a resumed run whose first push
    went through, with commits added on top since) is done; otherwise the person is told.
    """
    remote = await ctx.forge.git_remote(ctx.run.repo)
    try:
        await git.push(root, remote, branch, source=sha, force=force)
    except git.PushRejected as exc:
        if await _branch_contains(root, remote, branch, sha):
            return
        await refuse(
            ctx,
            "push-rejected",
            (
                f"AgentOps could not push to `{branch}`: the push was refused (the branch "
                "moved while it worked, or it is protected). Nothing was changed; write "
                "`/agentops retry` to start again from the new head."
            ),
            detail=str(exc),
        )


async def _branch_contains(root: Path, remote: GitRemote, branch: str, sha: str) -> bool:
    listed = await git.run_git(
        ["ls-remote", "--", remote.url, f"refs/heads/{branch}"], remote=remote
    )
    if not listed.strip():
        return False
    tip = listed.split()[0]
    if tip == sha:
        return True
    try:
        await git.run_git(
            ["fetch", "--quiet", "--no-tags", remote.url, tip], cwd=root, remote=remote
        )
        await git.run_git(["merge-base", "--is-ancestor", sha, tip], cwd=root)
    except git.GitError:
        return False
    return True
