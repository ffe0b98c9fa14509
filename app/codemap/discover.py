"""Which files of a tree the code map reads, and their git blob SHAs.

In a git checkout the SHAs of unmodified tracked files come from `git ls-files -s`, so
an unchanged file is not even read on a re-index; in a plain directory (an sdist) each
file is read and hashed the way git would.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from app import repo_files
from app.codemap.languages import language_for_path
from app.git_env import UnsafeRepositoryConfig, repository_env_sync
from app.test_paths import is_test_path

DEFAULT_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "vendor",
        "vendors",
        "third_party",
        "third-party",
        "bower_components",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        "dist",
        "build",
        "target",
    }
)
DEFAULT_SKIP_SUFFIXES = (".min.js", ".min.mjs", ".bundle.js", ".d.ts.map", "_pb2.py", ".pb.go")


@dataclass(frozen=True)
class SkipRules:
    """What to leave out: vendored and build directories, generated names, huge files."""

    skip_dirs: frozenset[str] = DEFAULT_SKIP_DIRS
    skip_suffixes: tuple[str, ...] = DEFAULT_SKIP_SUFFIXES
    max_bytes: int = 1_000_000
    extra_skip_prefixes: tuple[str, ...] = field(default=())
    skip_tests: bool = False

    def skips_path(self, path: str) -> bool:
        if path.endswith(self.skip_suffixes):
            return True
        if self.skip_tests and is_test_path(path):
            return True
        if any(path.startswith(prefix) for prefix in self.extra_skip_prefixes):
            return True
        return any(part in self.skip_dirs for part in path.split("/")[:-1])


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative, with forward slashes
    language: str
    size: int
    mtime_ns: int
    blob_sha: str | None  # known without reading the file (git checkout), else None


def git_blob_sha(content: bytes) -> str:
    """The SHA git gives a blob with this content."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)  # not header + content: that copies the file
    return digest.hexdigest()


def discover_files(root: Path, rules: SkipRules) -> tuple[list[SourceFile], int]:
    """The indexable files under root, sorted by path, and how many were skipped by rule.

    Only regular files count: never a link (nor a file under a linked directory), never a
    FIFO or a device (app/repo_files.py)."""
    known = _git_blob_shas(root)
    walked: dict[str, repo_files.Entry] = {}
    if known is None:
        walked = dict(repo_files.walk_files(root, skip_dirs=rules.skip_dirs))
    files: list[SourceFile] = []
    skipped = 0
    with repo_files.DirectoryChain(root) as tree:
        for path in sorted(known.keys() if known is not None else walked.keys()):
            language = language_for_path(path)
            if language is None:
                continue
            if rules.skips_path(path):
                skipped += 1
                continue
            entry = walked[path] if known is None else tree.stat_entry(path)
            if entry is None or entry.kind != "file":
                continue  # deleted from the work tree, a link, or not a regular file
            if entry.size > rules.max_bytes:
                skipped += 1
                continue
            blob_sha = (known or {}).get(path)
            files.append(SourceFile(path, language, entry.size, entry.mtime_ns, blob_sha))
    return files, skipped


def _git_blob_shas(root: Path) -> dict[str, str | None] | None:
    """Tracked paths → blob SHA (None when modified in the work tree), plus untracked
    files that are not ignored; None when root is not the top of a git work tree."""
    if not (root / ".git").exists():
        return None
    try:
        env = repository_env_sync(root)
        staged = _git(root, env, "ls-files", "-s", "-z")
        modified = set(_git(root, env, "ls-files", "-m", "-z").split("\0"))
        untracked = _git(root, env, "ls-files", "-o", "--exclude-standard", "-z").split("\0")
    except (OSError, subprocess.CalledProcessError, UnsafeRepositoryConfig):
        return None
    shas: dict[str, str | None] = {}
    for entry in staged.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, sha, _stage = meta.split(" ")
        if mode.startswith("120") or mode.startswith("160"):
            continue  # symlinks and submodules
        shas[path] = None if path in modified else sha
    shas.update((path, None) for path in untracked if path)
    return shas


def _git(root: Path, env: dict[str, str], *args: str) -> str:
    """git with the service's neutralised config (`env`): no filter or fsmonitor runs."""
    return subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
