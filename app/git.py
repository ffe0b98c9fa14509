"""Clone, branch, commit and push through the `git` command line, forge-neutral.

Every run goes through `run_git`: the environment comes from `app/git_env.py` (isolated
config; the auth header of a `GitRemote` through the environment, never argv, a URL or a
log line), under a timeout; failures raise `GitError` whose text is redacted of every
secret. Before a command runs in a repository, the keys its own config sets are listed
(`git config --list --no-includes`, which runs nothing) and every program-running one is
overridden (`git_env.repository_overrides`); diff commands never run external diff
programs or textconv filters. Staging is by path only (`stage_paths`): never
`git add --all`, never a link or anything but a regular file. Reading a remote branch's
tip without a checkout is in `app/git_tip.py`; a commit's files written out without
git's checkout in `app/git_export.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.forges.base import GitRemote
from app.git_env import (
    CONFIG_LISTING,
    UnsafeRepositoryConfig,
    git_env,
    header_secrets,
    repository_keys,
    repository_overrides,
)
from app.redaction import redact, register_secret

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
LITERAL_PATHS = {"GIT_LITERAL_PATHSPECS": "1"}  # a path like `*.py` is that one file
_DIFF_COMMANDS = frozenset({"diff", "log", "show"})


class GitError(Exception):
    """A git command failed; the message and `stderr` are already redacted."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class GitTimeout(GitError):
    """A git command ran past its timeout and was killed."""


class TransferTooLarge(GitError):
    """A clone or fetch stopped because a file it wrote (the pack) passed its size limit."""


class PushRejected(GitError):
    """The forge refused the push (not a fast-forward, protected branch, no access)."""


class NothingToCommit(GitError):
    """`commit` found no change to record."""


@dataclass(frozen=True)
class Person:
    """A commit identity: `Person("agentops[bot]", "123+agentops[bot]@users.noreply…")`."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


# --- pure helpers --------------------------------------------------------------------


def commit_message(message: str, co_authors: Sequence[Person] = ()) -> str:
    """`message` with one `Co-authored-by:` trailer per co-author (no duplicates)."""
    text = message.strip()
    trailers = [
        f"Co-authored-by: {person}"
        for person in dict.fromkeys(co_authors)
        if f"Co-authored-by: {person}" not in text
    ]
    if not trailers:
        return text + "\n"
    last_paragraph = text.rsplit("\n\n", 1)[-1]
    in_trailer_block = "\n\n" in text and all(
        re.match(r"^[A-Za-z-]+: ", line) for line in last_paragraph.splitlines()
    )
    return text + ("\n" if in_trailer_block else "\n\n") + "\n".join(trailers) + "\n"


def check_remote_url(url: str) -> None:
    if not re.match(r"^https?://", url):
        raise GitError(f"refusing a non-HTTP(S) remote: {redact(url)}")
    if "@" in url.split("://", 1)[1].split("/", 1)[0]:
        raise GitError("refusing a remote URL that carries credentials")


# --- running git ---------------------------------------------------------------------


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    remote: GitRemote | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
    stdin: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    file_limit: int | None = None,
) -> str:
    """Run `git args…`; return stdout. Raises `GitError`/`GitTimeout` with redacted stderr.

    `file_limit`: no file git writes may pass that many bytes (the kernel's file size
    limit, through `prlimit`); passing it stops git with `TransferTooLarge`."""
    secrets = header_secrets(remote.auth_header) if remote is not None else []
    for secret in secrets:
        register_secret(secret)
    env = await repository_env(cwd, remote)
    env.update(extra_env or {})
    args = list(args)
    if args and args[0] in _DIFF_COMMANDS:
        args[1:1] = ["--no-ext-diff", "--no-textconv"]
    shown = redact(" ".join(["git", *args]), secrets)
    log.debug("running %s", shown)
    command = ["git", *args] if file_limit is None else [*_file_limited(file_limit), *args]
    # Python ignores SIGXFSZ; left ignored in git, a write past the limit fails with
    # EFBIG and git says "File too large" (the signal's default kills index-pack quietly)
    keep_ignored = file_limit is not None
    code, out, err = await _spawn(command, cwd, env, stdin, time_limit, shown, keep_ignored)
    stderr = redact(err.decode("utf-8", errors="replace"), secrets).strip()
    if code != 0:
        log.warning("%s failed (exit %s): %s", shown, code, stderr[-2000:])
        kind = PushRejected if args and args[0] == "push" else GitError
        if file_limit is not None and _FILE_TOO_LARGE.search(_local_lines(stderr)):
            kind = TransferTooLarge
        raise kind(
            f"{shown} failed (exit {code}): {stderr[-2000:]}", returncode=code, stderr=stderr
        )
    return out.decode("utf-8", errors="replace")


async def repository_env(cwd: Path | None, remote: GitRemote | None = None) -> dict[str, str]:
    """`git_env` for a run in `cwd`, with the repository's own program-running config
    neutralised; `GitError` when that config cannot be made safe."""
    base = git_env(remote)
    if cwd is None:
        return base
    listing = ["git", *CONFIG_LISTING]
    code, out, _ = await _spawn(listing, cwd, base, None, 30.0, "git config --list")
    if code != 0:
        return base  # not a repository (yet): git itself reads no repository config there
    try:
        return git_env(remote, overrides=repository_overrides(repository_keys(out)))
    except UnsafeRepositoryConfig as exc:
        raise GitError(str(exc)) from None


_FILE_TOO_LARGE = re.compile(r"signal 25\b|File too large|file size limit", re.I)
# What the server says reaches stderr as "remote: …" (its side band) or "remote error: …"
# (its ERR line); a hostile server could print "File too large" there.
_SERVER_LINE = re.compile(r"^\s*remote:|remote error:", re.I)


def _local_lines(stderr: str) -> str:
    """stderr without the lines that carry the server's words: what git itself said."""
    return "\n".join(line for line in stderr.splitlines() if not _SERVER_LINE.search(line))


def _file_limited(limit: int) -> list[str]:
    """`git` under a file size limit: `prlimit` (util-linux, on every Debian system) sets
    it and runs git, whose helpers (`index-pack`, `remote-https`) inherit it."""
    prlimit = shutil.which("prlimit")
    if prlimit is None or not prlimit.startswith(("/usr/", "/bin/")):
        raise GitError("prlimit (util-linux) is not installed: a fetch cannot be bounded")
    return [prlimit, f"--fsize={limit}", "--", "git"]


async def _spawn(
    command: Sequence[str],
    cwd: Path | None,
    env: Mapping[str, str],
    stdin: str | None,
    time_limit: float,
    shown: str,
    keep_ignored_signals: bool = False,
) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *command,
        restore_signals=not keep_ignored_signals,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), time_limit
        )
    except TimeoutError:
        _kill_group(process)
        await process.wait()
        raise GitTimeout(f"{shown} timed out after {time_limit:g} s") from None
    except asyncio.CancelledError:
        _kill_group(process)
        raise
    assert process.returncode is not None
    return process.returncode, out, err


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# --- operations ----------------------------------------------------------------------


async def clone(
    remote: GitRemote,
    dest: Path,
    *,
    branch: str | None = None,
    depth: int | None = 1,
    blobless: bool = False,
    checkout: bool = True,
    time_limit: float = DEFAULT_TIMEOUT,
    max_bytes: int | None = None,
) -> Path:
    """Clone `remote` into `dest` (which must not exist or be empty).

    Shallow by default (`depth=1`, one branch); `depth=None` clones full history;
    `blobless=True` adds `--filter=blob:none` (history without file contents until needed);
    `checkout=False` writes no working tree; `max_bytes` bounds what the clone writes (its
    one pack: `TransferTooLarge` past it, before the whole download is on disk).
    `origin` is the clean URL: later fetches and pushes need the `GitRemote` again.
    """
    check_remote_url(remote.url)
    args = ["clone", "--quiet", "--no-tags"]
    if depth is not None:
        args += ["--depth", str(depth)]
    if blobless:
        args += ["--filter=blob:none"]
    if not checkout:
        args += ["--no-checkout"]
    args += [
        "--branch",
        branch or remote.default_branch,
        "--single-branch" if depth else "--no-single-branch",
        "--",
        remote.url,
        str(dest),
    ]
    dest.parent.mkdir(parents=True, exist_ok=True)
    await run_git(args, remote=remote, time_limit=time_limit, file_limit=max_bytes)
    return dest


async def fetch_more(
    repo_dir: Path,
    remote: GitRemote,
    *,
    refs: Sequence[str] = (),
    deepen: int | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
) -> None:
    """Fetch what a shallow clone lacks.

    `refs`: branch names to fetch as `origin/<name>` (e.g. a PR base). `deepen`: that many
    more commits of history; with neither, the whole history (`--unshallow`).
    """
    check_remote_url(remote.url)
    args = ["fetch", "--quiet", "--no-tags"]
    shallow = (await run_git(["rev-parse", "--is-shallow-repository"], cwd=repo_dir)).strip()
    if deepen is not None:
        args += [f"--deepen={deepen}"]
    elif not refs and shallow == "true":
        args += ["--unshallow"]
    args += [remote.url]
    for ref in refs:
        await check_branch_name(ref)
        args.append(f"+refs/heads/{ref}:refs/remotes/origin/{ref}")
    await run_git(args, cwd=repo_dir, remote=remote, time_limit=time_limit)


async def fetch_commit(
    repo_dir: Path,
    remote: GitRemote,
    sha: str,
    *,
    depth: int = 1,
    time_limit: float = DEFAULT_TIMEOUT,
    max_bytes: int | None = None,
) -> None:
    """Fetch one commit by its id (forges allow fetching any commit they hold).
    `max_bytes`: as for `clone` (the objects are kept as one pack, never unpacked into
    as many loose files, so the limit bounds the whole fetch)."""
    check_remote_url(remote.url)
    if not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", sha):
        raise GitError(f"not a commit id: {sha[:80]!r}")
    one_pack = ["-c", "fetch.unpackLimit=1"] if max_bytes is not None else []
    await run_git(
        [*one_pack, "fetch", "--quiet", "--no-tags", f"--depth={depth}", remote.url, sha],
        cwd=repo_dir,
        remote=remote,
        time_limit=time_limit,
        file_limit=max_bytes,
    )


async def check_branch_name(name: str) -> None:
    try:
        await run_git(["check-ref-format", "--branch", name], time_limit=10)
    except GitError:
        raise GitError(f"not a valid branch name: {name!r}") from None
    if name.startswith("-"):
        raise GitError(f"not a valid branch name: {name!r}")


async def create_branch(repo_dir: Path, name: str, start: str = "HEAD") -> None:
    """Create branch `name` at `start` and switch to it (an existing one is reset)."""
    await check_branch_name(name)
    await run_git(["checkout", "--quiet", "-B", name, start, "--"], cwd=repo_dir)


async def head_sha(repo_dir: Path, ref: str = "HEAD") -> str:
    return (await run_git(["rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=repo_dir)).strip()


def check_stageable(repo_dir: Path, path: str) -> bool:
    """Whether `path` exists as a regular file (False: absent); `GitError` when it, or a
    directory on its way, is a link or anything but a regular file or directory."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise GitError(f"refusing to stage {path[:200]!r}: not a path inside the repository")
    current = repo_dir
    for index, part in enumerate(parts):
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            return False
        last = index == len(parts) - 1
        if stat.S_ISLNK(info.st_mode):
            raise GitError(f"refusing to stage {path[:200]!r}: a symbolic link")
        if not (stat.S_ISREG(info.st_mode) if last else stat.S_ISDIR(info.st_mode)):
            raise GitError(f"refusing to stage {path[:200]!r}: not a regular file")
    return True


async def stage_paths(repo_dir: Path, paths: Sequence[str]) -> None:
    """Stage exactly `paths` (changed, new or removed), nothing else.

    A path that is a symbolic link or not a regular file, in the working tree or in
    HEAD, is refused (`GitError`): a delivery never creates or changes a link.
    """
    if not paths:
        return
    present = [p for p in paths if await asyncio.to_thread(check_stageable, repo_dir, p)]
    gone = [p for p in paths if p not in present]
    tracked = await run_git(
        ["ls-tree", "-z", "HEAD", "--", *paths], cwd=repo_dir, extra_env=LITERAL_PATHS
    )
    for record in filter(None, tracked.split("\0")):
        meta, _, name = record.partition("\t")
        if meta.split()[0] not in ("100644", "100755"):
            raise GitError(f"refusing to stage {name[:200]!r}: not a regular file in HEAD")
    if present:
        await run_git(["add", "--", *present], cwd=repo_dir, extra_env=LITERAL_PATHS)
    if gone:
        await run_git(
            ["rm", "--cached", "--quiet", "--ignore-unmatch", "--", *gone],
            cwd=repo_dir,
            extra_env=LITERAL_PATHS,
        )


async def commit(
    repo_dir: Path,
    message: str,
    *,
    author: Person,
    paths: Sequence[str],
    co_authors: Sequence[Person] = (),
    allow_empty: bool = False,
    date: str | None = None,
) -> str:
    """Stage exactly `paths` (`stage_paths`) and commit as `author`; returns the new sha.

    With `date` (any form git accepts, e.g. `@1700000000 +0000`) the commit is
    reproducible: the same parent, tree, message and date give the same sha, so a resumed
    run that commits again pushes nothing new.

    The bot is author and committer; the person who asked goes in `co_authors`, each as a
    `Co-authored-by:` trailer. Raises `NothingToCommit` when there is nothing to record.
    """
    await stage_paths(repo_dir, paths)
    staged = await run_git(["diff", "--cached", "--name-only"], cwd=repo_dir)
    if not staged.strip() and not allow_empty:
        raise NothingToCommit("nothing to commit: the working tree has no changes")
    identity = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name,
        "GIT_COMMITTER_EMAIL": author.email,
    }
    if date is not None:
        identity |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    args = ["commit", "--quiet", "--no-verify", "--file=-"]
    if allow_empty:
        args.append("--allow-empty")
    await run_git(args, cwd=repo_dir, stdin=commit_message(message, co_authors), extra_env=identity)
    return await head_sha(repo_dir)


async def push(
    repo_dir: Path,
    remote: GitRemote,
    branch: str,
    *,
    force: bool = False,
    source: str = "HEAD",
    allow_default_branch: bool = False,
    time_limit: float = DEFAULT_TIMEOUT,
) -> None:
    """Push `source` to `branch` on the remote. Never forces unless `force=True`.

    Pushing to the remote's default branch is refused unless `allow_default_branch=True`.
    A rejected push raises `PushRejected`.
    """
    check_remote_url(remote.url)
    await check_branch_name(branch)
    if branch == remote.default_branch and not allow_default_branch:
        raise PushRejected(f"refusing to push to the default branch {branch!r}")
    args = ["push", "--quiet", "--no-verify"]
    if force:
        args.append("--force")
    args += [remote.url, f"{source}:refs/heads/{branch}"]
    await run_git(args, cwd=repo_dir, remote=remote, time_limit=time_limit)
