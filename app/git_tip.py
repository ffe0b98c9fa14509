"""What the tip of a remote branch holds, read without a working copy.

`branch_tip` asks the remote which commit a branch points at; `read_file_at_tip` fetches
that one commit's trees (no file contents, no checkout) and then the one file it needs.
"""

from __future__ import annotations

from pathlib import Path

from app.forges.base import GitRemote
from app.git import check_branch_name, check_remote_url, head_sha, run_git
from app.repo_files import MAX_FILE_BYTES, RepositoryFileRefused


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
    filters sends the whole commit instead. A link (or a submodule) is RepositoryFileRefused.
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
    # In a blobless clone reading fetches the blob from origin: it needs the auth header too.
    text = await read_committed_file(dest, "HEAD", path, remote=remote, time_limit=time_limit)
    return sha, text


async def read_committed_file(
    root: Path,
    ref: str,
    path: str,
    *,
    remote: GitRemote | None = None,
    time_limit: float = 120.0,
    max_bytes: int = MAX_FILE_BYTES,
) -> str | None:
    """`path` as committed at `ref` in the repository at root; None when absent.

    The safe reader's rules for a commit: a symbolic link (its target is never looked up),
    a submodule or a directory, and a blob larger than max_bytes, are RepositoryFileRefused.
    """
    listed = await run_git(["ls-tree", ref, "--", path], cwd=root)
    if not listed.strip():
        return None
    mode, kind, blob = listed.split("\t", 1)[0].split()
    if mode == "120000":
        raise RepositoryFileRefused(f"`{path}` is a symbolic link; links are never followed.")
    if kind != "blob":
        raise RepositoryFileRefused(f"`{path}` is a {kind}, not a file.")
    size = int(
        await run_git(["cat-file", "-s", blob], cwd=root, remote=remote, time_limit=time_limit)
    )
    if size > max_bytes:
        raise RepositoryFileRefused(f"`{path}` is larger than {max_bytes} bytes.")
    return await run_git(["cat-file", "blob", blob], cwd=root, remote=remote, time_limit=time_limit)
