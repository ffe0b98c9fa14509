"""Unified diffs of applied changes, written git-style and read back with unidiff."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from unidiff.patch import PatchSet


@dataclass(frozen=True)
class FileChange:
    """One file before and after the edits (before is None for a new file)."""

    path: str
    before: str | None
    after: str


@dataclass(frozen=True)
class FileStat:
    path: str
    added: int
    removed: int
    new_file: bool


def render_file_diff(change: FileChange, context: int = 3) -> str:
    """The git-style unified diff of one change ("" when nothing changed)."""
    if change.before == change.after:
        return ""
    before = (change.before or "").splitlines(keepends=True)
    after = change.after.splitlines(keepends=True)
    path = change.path
    header = [f"diff --git a/{path} b/{path}\n"]
    if change.before is None:
        header.append("new file mode 100644\n")
    old_name = "/dev/null" if change.before is None else f"a/{path}"
    body = difflib.unified_diff(before, after, old_name, f"b/{path}", n=context)
    lines = list(body)
    if not lines:
        if change.before is None:  # an empty new file: git shows the header alone
            return "".join(header)
        return ""
    return "".join(header) + "".join(_terminated(lines))


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        if line.endswith("\n"):
            yield line
        else:
            yield line + "\n\\ No newline at end of file\n"


def render_diff(changes: Sequence[FileChange], context: int = 3) -> str:
    """The unified diff of all changes, one file after another; checked by parsing it back."""
    text = "".join(render_file_diff(change, context) for change in changes)
    diff_stats(text)  # a diff unidiff cannot read is a fault here, not something to hand on
    return text


def diff_stats(diff_text: str) -> list[FileStat]:
    """Lines added and removed per file of a unified diff."""
    return [
        FileStat(patched.path, patched.added, patched.removed, patched.is_added_file)
        for patched in PatchSet(diff_text)
    ]
