"""Where a review comment may sit in a pull request's diff (pure; reads diffs with unidiff).

GitHub and GitLab accept a comment on a line of the new side of the diff only when that
line is in one of the diff's hunks: an added line or a context line around a change.
`diff_lines` says, per new path, which new-side lines those are and what they were on
the old side (GitLab needs the old line of a context line, and the old path of a renamed
file); `commentable_lines` is the same as plain sets. `numbered_diff` shows a diff with
the new-side line numbers written in front, so that a model can name lines exactly.

    lines = commentable_lines(diff_text)      # {"calc.py": {1, 2, 3, 5, 6}}
    where = diff_lines(diff_text)["calc.py"][5]
    where.old_line                            # None: line 5 was added
"""

from __future__ import annotations

from dataclasses import dataclass

from unidiff.errors import UnidiffParseError
from unidiff.patch import Hunk, PatchedFile, PatchSet

NUMBER_WIDTH = 5


class DiffUnreadable(ValueError):
    """The text is not a unified diff unidiff can read; the message says where."""


@dataclass(frozen=True)
class DiffLine:
    """One new-side line of a hunk: an added line (`old_line` None) or a context line."""

    path: str  # the file's path after the change
    old_path: str  # before the change (differs from `path` for a renamed file)
    new_line: int
    old_line: int | None


def diff_lines(diff_text: str) -> dict[str, dict[int, DiffLine]]:
    """Per new path, the new-side lines that appear in the diff's hunks, by line number.

    Deleted files have no new side and are left out, as are files without hunks
    (binary files, pure renames, mode changes)."""
    found: dict[str, dict[int, DiffLine]] = {}
    for patched in _parse(diff_text):
        if patched.is_removed_file:
            continue
        path, old_path = _paths(patched)
        lines = found.setdefault(path, {})
        for hunk in patched:
            for line in hunk:
                if line.target_line_no is None or not (line.is_added or line.is_context):
                    continue
                old = line.source_line_no if line.is_context else None
                lines[line.target_line_no] = DiffLine(path, old_path, line.target_line_no, old)
        if not lines:
            del found[path]
    return found


def commentable_lines(diff_text: str) -> dict[str, set[int]]:
    """Per new path, the new-side line numbers that a review comment may be put on."""
    return {path: set(lines) for path, lines in diff_lines(diff_text).items()}


def numbered_diff(diff_text: str) -> str:
    """The diff with each line's new-side number in front (blank for a removed line).

    +++ b/calc.py
    @@ -4,2 +4,4 @@
        4   def divide(a, b):
        5 +     if b == 0:
          -     return a // b
    """
    out: list[str] = []
    for patched in _parse(diff_text):
        path, old_path = _paths(patched)
        if patched.is_removed_file:
            out.append(f"--- {old_path} (deleted)")
            continue
        out.append(f"+++ {path}" + (f" (renamed from {old_path})" if old_path != path else ""))
        if not list(patched):
            out.append("(no text changes)")
        for hunk in patched:
            out.append(_hunk_header(hunk))
            for line in hunk:
                number = "" if line.target_line_no is None else str(line.target_line_no)
                text = line.value.rstrip("\r\n")
                out.append(f"{number:>{NUMBER_WIDTH}} {line.line_type}{text}")
    return "\n".join(out) + ("\n" if out else "")


def _parse(diff_text: str) -> PatchSet:
    try:
        return PatchSet(diff_text)
    except UnidiffParseError as exc:
        raise DiffUnreadable(f"the diff could not be read: {exc}") from None


def _paths(patched: PatchedFile) -> tuple[str, str]:
    new = _strip(patched.target_file, "b/")
    old = _strip(patched.source_file, "a/")
    if new == "/dev/null":
        new = old
    if old == "/dev/null":
        old = new
    return new, old


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


def _hunk_header(hunk: Hunk) -> str:
    return (
        f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    )
