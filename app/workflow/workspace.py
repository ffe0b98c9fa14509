"""A run's checkout on disk, rebuilt from what the steps recorded when it is missing.

A run may resume on another worker (or after a crash that lost its folder): the checkout
is cloned again at the recorded base commit and the recorded diff is applied again.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from app import git
from app.forges.base import GitRemote


def run_folder(workdir: Path, run_id: int) -> Path:
    return workdir / f"run-{run_id}"


async def ensure_checkout(folder: Path, remote: GitRemote, ref: str, base_sha: str) -> Path:
    """`folder/repo` holding `base_sha` (cloned from `ref` when missing, or when an earlier
    checkout lacks that commit); returns its path. An existing checkout is left as it is."""
    root = folder / "repo"
    if await has_commit(root, base_sha):
        return root
    await asyncio.to_thread(shutil.rmtree, root, True)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await git.clone(remote, root, branch=ref, depth=1)
    if await git.head_sha(root) != base_sha:
        await git.fetch_commit(root, remote, base_sha)  # the branch moved since
        await git.run_git(["checkout", "--quiet", "--force", "--detach", base_sha], cwd=root)
    return root


async def has_commit(root: Path, sha: str) -> bool:
    """Whether `root` is a checkout that holds commit `sha`."""
    if not (root / ".git").is_dir():
        return False
    try:
        await git.run_git(["cat-file", "-e", f"{sha}^{{commit}}"], cwd=root)
    except git.GitError:
        return False
    return True


async def reset_to(root: Path, sha: str) -> None:
    """Throw away every change in the working tree (a resumed step starts clean)."""
    await git.run_git(["checkout", "--quiet", "--force", "--detach", sha], cwd=root)
    await git.run_git(["clean", "--quiet", "-fd"], cwd=root)


async def working_diff(root: Path, base_sha: str) -> str:
    """Everything changed since `base_sha`, new files included, as a binary-safe diff."""
    await git.run_git(["add", "--all"], cwd=root)
    return await git.run_git(["diff", "--cached", "--binary", base_sha], cwd=root)


async def changed_paths(root: Path, base_sha: str) -> list[str]:
    """Paths added, changed or removed in the working tree since `base_sha`."""
    await git.run_git(["add", "--all"], cwd=root)
    listed = await git.run_git(
        ["diff", "--cached", "--name-only", "--no-renames", base_sha], cwd=root
    )
    return [line for line in listed.splitlines() if line]


async def apply_diff(root: Path, diff: str) -> None:
    if diff.strip():
        await git.run_git(["apply", "--whitespace=nowarn", "--binary", "-"], cwd=root, stdin=diff)


async def base_copy(folder: Path, root: Path, base_sha: str) -> Path:
    """A second working tree of the original code, for running the tests before the change."""
    base = folder / "base"
    if not (base / ".git").exists():
        await asyncio.to_thread(shutil.rmtree, base, True)
        await git.run_git(
            ["worktree", "add", "--quiet", "--force", "--detach", str(base), base_sha], cwd=root
        )
    return base
