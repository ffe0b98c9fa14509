"""A pull request's (GitLab: merge request's) head, checked out, and the `.agentops.yml`
that applies to it.

- The head is cloned from the base repository, where forges keep every pull request's
  head commit (GitHub `refs/pull/N/head`, GitLab `refs/merge-requests/N/head`), so a
  fork's head is fetched from there by its sha.
- `.agentops.yml` is read from the pull request's head when its author has write access,
  otherwise from the base branch: a stranger's pull request cannot choose the setup
  commands, the models or the limits that run on it.
"""

from __future__ import annotations

from pathlib import Path

from app import git
from app.forges.base import ForgeError, ForgeTransientError
from app.git_tip import read_committed_file
from app.repo_config import (
    MAX_REPO_CONFIG_BYTES,
    REPO_CONFIG_FILE,
    RepoConfigError,
    parse_repo_config,
    repo_config_refused,
)
from app.repo_files import RepositoryFileRefused
from app.step_records import ConfigRead, Head
from app.workflow import workspace
from app.workflow.context import RunContext, refuse


def is_fork(repo: str, head: Head) -> bool:
    """Does the head branch (the `prepare` step's detail) live in another repository?"""
    return bool(head.head_repo != repo)


async def checkout_head(ctx: RunContext, head: Head) -> Path:
    """The run's checkout at the pull request's head commit (cloned when missing)."""
    folder = workspace.run_folder(ctx.deps.settings.workdir, ctx.run.id)
    sha = head.head_sha
    if await workspace.has_commit(folder / "repo", sha):
        return folder / "repo"
    remote = await ctx.forge.git_remote(ctx.run.repo)
    start = head.base if is_fork(ctx.run.repo, head) else head.ref
    return await workspace.ensure_checkout(
        folder, remote, start, sha, ctx.deps.settings.tree_limits
    )


async def read_pull_config(ctx: RunContext, head: Head) -> ConfigRead:
    """The `config` step: `.agentops.yml` under the write-access rule, command enabled."""
    run = ctx.run
    pull = await ctx.forge.get_pull_request(ctx.target)
    try:
        trusted = await ctx.forge.has_write_access(run.repo, pull.author)
    except ForgeTransientError:
        raise
    except ForgeError:  # e.g. an author the forge does not know (a bot): fail closed
        trusted = False
    root = await checkout_head(ctx, head)
    if trusted:
        ref = head.head_sha
        source = "this pull request's head"
    else:
        ref = await fetch_branch_tip(ctx, root, head.base)
        source = f"the base branch `{head.base}`"
    try:
        config = parse_repo_config(await _config_at(root, ref))
    except RepoConfigError as exc:
        await refuse(
            ctx,
            "config",
            f"{exc} (read from {source}). Fix it and write `/agentops {run.command}` again.",
        )
    if run.command not in config.commands:
        await refuse(
            ctx,
            "disabled",
            f"`/agentops {run.command}` is turned off here by "
            f"`commands:` in {REPO_CONFIG_FILE} ({source}).",
        )
    return ConfigRead(
        config=config.model_dump(),
        source="head" if trusted else "base",
        author=pull.author,
        author_can_write=trusted,
    )


async def fetch_branch_tip(ctx: RunContext, root: Path, branch: str) -> str:
    """Fetch the tip of `branch` of the run's repository into the checkout; its sha."""
    remote = await ctx.forge.git_remote(ctx.run.repo)
    await git.check_branch_name(branch)
    local = f"refs/remotes/origin/{branch}"
    await git.run_git(
        ["fetch", "--quiet", "--no-tags", "--depth=1", remote.url, f"+refs/heads/{branch}:{local}"],
        cwd=root,
        remote=remote,
    )
    return await git.head_sha(root, local)


async def _config_at(root: Path, ref: str) -> str | None:
    """`.agentops.yml` as committed at `ref`; a link or a special entry is a RepoConfigError."""
    try:
        return await read_committed_file(
            root, ref, REPO_CONFIG_FILE, max_bytes=MAX_REPO_CONFIG_BYTES
        )
    except RepositoryFileRefused as refused:
        raise repo_config_refused(refused) from None
