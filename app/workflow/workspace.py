"""A run's checkout on disk, rebuilt from what the steps recorded when it is missing.

A run may resume on another worker (or after a crash that lost its folder): the checkout
is cloned again at the recorded base commit and the recorded diff is applied again.

The checkout is the worker's alone: sandboxed commands run on copies of it
(app/sandbox/workcopy.py). What a change consists of is exactly the paths the edit tool
wrote (`Toolbox.edited`): diffs and commits stage those paths and nothing else, never
`git add --all`, and refuse a path that is a link or anything but a regular file.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path

from app import git
from app.forges.base import GitRemote
from app.git_export import (
    DEFAULT_TREE_LIMITS,
    TreeBeyondLimits,
    TreeLimits,
    check_tree,
    export_tree,
)


def run_folder(workdir: Path, run_id: int) -> Path:
    return workdir / f"run-{run_id}"


async def ensure_checkout(
    folder: Path,
    remote: GitRemote,
    ref: str,
    base_sha: str,
    limits: TreeLimits = DEFAULT_TREE_LIMITS,
) -> Path:
    """`folder/repo` holding `base_sha` (cloned from `ref` when missing, or when an earlier
    checkout lacks that commit); returns its path. An existing checkout is left as it is.
    The tree is written only once its listing is within `limits` (`TreeBeyondLimits`): a
    repository's tree bomb fills no disk. The download itself is bounded too: a pack
    larger than any commit within the limits could need is stopped as it arrives."""
    root = folder / "repo"
    if await has_commit(root, base_sha):
        return root
    await asyncio.to_thread(shutil.rmtree, root, True)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    limit = limits.pack_bytes
    try:
        await git.clone(remote, root, branch=ref, depth=1, checkout=False, max_bytes=limit)
        if await git.head_sha(root) != base_sha:  # the branch moved since
            await git.fetch_commit(root, remote, base_sha, max_bytes=limit)
    except git.TransferTooLarge:
        await asyncio.to_thread(shutil.rmtree, root, True)
        raise TreeBeyondLimits(
            f"the commit's files hold more than {limits.bytes // 1_000_000} MB"
            f" (its download was stopped at {limit // 1_000_000} MB)"
        ) from None
    await check_tree(root, base_sha, limits)
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


async def working_diff(root: Path, base_sha: str, paths: Sequence[str]) -> str:
    """The change to `paths` since `base_sha` (new files included) as a binary-safe diff."""
    if not paths:
        return ""
    await git.stage_paths(root, paths)
    return await git.run_git(
        ["diff", "--cached", "--binary", "--no-renames", base_sha, "--", *paths],
        cwd=root,
        extra_env=git.LITERAL_PATHS,
    )


async def changed_paths(root: Path, base_sha: str, paths: Sequence[str]) -> list[str]:
    """Which of `paths` are added, changed or removed since `base_sha`."""
    if not paths:
        return []
    await git.stage_paths(root, paths)
    listed = await git.run_git(
        ["diff", "--cached", "--name-only", "--no-renames", base_sha, "--", *paths],
        cwd=root,
        extra_env=git.LITERAL_PATHS,
    )
    return [line for line in listed.splitlines() if line]


async def diff_paths(root: Path, diff: str) -> list[str]:
    """The paths a diff made by `working_diff` changes (what a delivery stages)."""
    if not diff.strip():
        return []
    listed = await git.run_git(["apply", "--numstat", "-z", "-"], cwd=root, stdin=diff)
    return [record.split("\t", 2)[2] for record in listed.split("\0") if record.count("\t") >= 2]


async def apply_diff(root: Path, diff: str) -> None:
    """Apply a diff made by `working_diff`; one that would create or change a link is
    refused (a delivery never does)."""
    if not diff.strip():
        return
    if any(_is_link_mode(line) for line in diff.splitlines()):
        raise git.GitError("refusing a diff that creates or changes a symbolic link")
    await git.run_git(["apply", "--whitespace=nowarn", "--binary", "-"], cwd=root, stdin=diff)


def _is_link_mode(line: str) -> bool:
    words = line.split()
    return (
        len(words) >= 2
        and words[-1] == "120000"
        and line.startswith(("new file mode", "deleted file mode", "old mode", "new mode"))
    ) or (line.startswith("index ") and line.endswith(" 120000"))


async def base_copy(
    folder: Path, root: Path, base_sha: str, limits: TreeLimits = DEFAULT_TREE_LIMITS
) -> Path:
    """The original code's files, for running the tests before the change.

    Written from the commit's blobs by the worker (app/git_export.py), not checked out
    by git, so no attribute filter or configured program of the repository runs; it has
    no `.git`, and nothing git-related runs on it afterwards; a tree beyond `limits` is
    refused (`TreeBeyondLimits`).
    """
    base = folder / "base"
    if not base.is_dir():
        partial = folder / "base.partial"
        await asyncio.to_thread(shutil.rmtree, partial, True)
        await export_tree(root, base_sha, partial, limits)
        await asyncio.to_thread(partial.rename, base)
    return base
