"""What the tip of a remote branch holds, read without a working copy.

`branch_tip` asks the remote which commit a branch points at; `read_file_at_tip` fetches
that one commit's trees (no file contents, no checkout) and then the one file it needs.
"""

from __future__ import annotations

from pathlib import Path

from app.forges.base import GitRemote
from app.git import check_branch_name, check_remote_url, head_sha, run_git


async def branch_tip(remote: GitRemote, branch: str, *, time_limit: float = 60.0) -> str | None:
    """The commit `branch` points at on the remote; None when there is no such branch."""
    check_remote_url(remote.url)
    await check_branch_name(branch)
    listed = await run_git(
        ["ls-remote", "--", remote.url, f"refs/heads/{branch}"],
        remote=remote,
        time_limit=time_limit,
    )
    return listed.split()[0] if listed.strip() else None


async def read_file_at_tip(
    remote: GitRemote, branch: str, path: str, dest: Path, *, time_limit: float = 120.0
) -> tuple[str, str | None]:
    """`(commit, text)`: `path` as committed at the tip of `branch` (None when absent).

    Fetches as little as the forge allows: one commit and its trees, no file contents, no
    checkout (into `dest`, which must not exist); then the one file. A forge that refuses
    filters sends the whole commit instead. A symlink is its target's name, not followed.
    """
    check_remote_url(remote.url)
    await check_branch_name(branch)
    await run_git(
        [
            "clone",
            "--quiet",
            "--no-tags",
            "--depth=1",
            "--filter=blob:none",
            "--no-checkout",
            "--single-branch",
            "--branch",
            branch,
            "--",
            remote.url,
            str(dest),
        ],
        remote=remote,
        time_limit=time_limit,
    )
    sha = await head_sha(dest)
    listed = await run_git(["ls-tree", "--name-only", "HEAD", "--", path], cwd=dest)
    if not listed.strip():
        return sha, None
    # In a blobless clone `show` fetches the blob from origin: it needs the auth header too.
    text = await run_git(["show", f"HEAD:{path}"], cwd=dest, remote=remote, time_limit=time_limit)
    return sha, text
