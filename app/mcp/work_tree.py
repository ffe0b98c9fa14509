"""Which tree a local checkout holds: its HEAD commit and what the work tree changed since,
in one `git status` run with the service's neutralised config (no fsmonitor, filter or
hook runs; app/git_env.py). A tree is keyed by its commit when clean, and by the commit
and the changed paths' sizes and times when not, so that an unchanged tree finds its
resident index again and an edit makes a new key."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app import repo_files
from app.git_env import UnsafeRepositoryConfig, repository_env_sync

STATUS = ("--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z", "-uall")
_TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class WorkTreeState:
    head: str  # the full SHA HEAD names
    changed: tuple[str, ...]  # paths changed since HEAD (staged, not, untracked), sorted
    key: str  # the head when nothing changed, else a digest of the head and the changes


def work_tree_state(root: Path) -> WorkTreeState | None:
    """The state of the checkout whose top is `root`; None when it is not the top of a git
    work tree, has no commit yet, or git refuses it."""
    if not (root / ".git").exists():
        return None
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), *STATUS],
            env=repository_env_sync(root),
            capture_output=True,
            timeout=_TIMEOUT_SECONDS,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError, UnsafeRepositoryConfig):
        return None
    head, changed = parse_status(listed)
    if head is None:
        return None
    return WorkTreeState(head, changed, tree_key(root, head, changed))


def parse_status(listed: bytes) -> tuple[str | None, tuple[str, ...]]:
    """HEAD's SHA and the changed paths of `git status --porcelain=v2 --branch -z` (pure)."""
    head: str | None = None
    changed: set[str] = set()
    records = listed.split(b"\0")
    at = 0
    while at < len(records):
        record = records[at].decode("utf-8", "surrogateescape")
        at += 1
        kind, _, rest = record.partition(" ")
        if kind == "#":
            name, _, value = rest.partition(" ")
            if name == "branch.oid" and len(value) in (40, 64):
                head = value
        elif kind == "1":
            changed.add(rest.split(" ", 7)[-1])
        elif kind == "2":
            changed.add(rest.split(" ", 8)[-1])
            if at < len(records):  # the path it was renamed from
                changed.add(records[at].decode("utf-8", "surrogateescape"))
                at += 1
        elif kind == "u":
            changed.add(rest.split(" ", 9)[-1])
        elif kind == "?":
            changed.add(rest)
    return head, tuple(sorted(changed))


def tree_key(root: Path, head: str, changed: tuple[str, ...]) -> str:
    """`head` for a clean tree; else a SHA-1 of it and each changed path's size and time
    (a full SHA's shape, so that it keys a resident index like a commit)."""
    if not changed:
        return head
    digest = hashlib.sha1(head.encode(), usedforsecurity=False)
    with repo_files.DirectoryChain(root) as tree:
        for path in changed:
            try:
                entry = tree.stat_entry(path)
            except repo_files.RepositoryFileRefused:
                entry = None
            seen = f"{entry.kind} {entry.size} {entry.mtime_ns}" if entry else "gone"
            digest.update(f"\0{path}\0{seen}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
