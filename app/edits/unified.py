"""Reading a unified diff that a model wrote instead of SEARCH/REPLACE blocks.

Models asked for blocks sometimes answer with a diff, and their diffs are rarely exact:
hunk headers with wrong counts or no numbers at all, blank context lines without their
leading space. Each hunk is read leniently and becomes one SEARCH/REPLACE edit (old side
as SEARCH, new side as REPLACE, the old start line as hint), so it goes through the same
forgiving matching and the same refusals as a block. A `--- /dev/null` file is a new file.
"""

from __future__ import annotations

import re

from app.edits.edit import Edit, EditFormatError

_OLD = re.compile(r"^--- (?:a/)?(?P<path>\S+)")
_NEW = re.compile(r"^\+\+\+ (?:b/)?(?P<path>\S+)")
_HUNK = re.compile(r"^@@(?: -(?P<start>\d+)(?:,\d+)? \+\d+(?:,\d+)?)? ?@@")


def looks_like_unified_diff(text: str) -> bool:
    lines = text.replace("\r\n", "\n").split("\n")
    return any(_file_header(lines, index) for index in range(len(lines)))


def edits_from_unified_diff(text: str) -> list[Edit]:
    """One edit per hunk, in order (EditFormatError for what cannot be an edit)."""
    lines = text.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    index = 0
    path: str | None = None
    new_file = False
    while index < len(lines):
        header = _file_header(lines, index)
        if header:
            path, new_file = _paths(*header, len(edits) + 1)
            index += 2
            continue
        hunk = _HUNK.match(lines[index])
        if hunk is None or path is None:
            index += 1
            continue
        body, index = _hunk_lines(lines, index + 1)
        search = "".join(line[1:] + "\n" for line in body if line[0] in " -")
        replace = "".join(line[1:] + "\n" for line in body if line[0] in " +")
        start = int(hunk.group("start")) if hunk.group("start") else None
        number = len(edits) + 1
        if new_file:
            edits.append(Edit(path, "", replace, whole_file=True, number=number))
        else:
            edits.append(Edit(path, search, replace, line_hint=start, number=number))
    return edits


def _paths(old: str, new: str, number: int) -> tuple[str, bool]:
    if new == "/dev/null":
        raise EditFormatError(
            f"Block {number}: the diff deletes `{old}`; deleting files is not supported."
        )
    return new, old == "/dev/null"


def _hunk_lines(lines: list[str], index: int) -> tuple[list[str], int]:
    body: list[str | None] = []  # None: an empty line, a blank context line without its space
    while index < len(lines):
        line = lines[index]
        if _HUNK.match(line) or _file_header(lines, index):
            break
        if line.startswith("\\"):  # "\ No newline at end of file"
            index += 1
            continue
        if line and line[0] not in " -+":
            break
        body.append(line or None)
        index += 1
    while body and body[-1] is None:  # empty lines after the hunk are not part of it
        body.pop()
    return [" " if line is None else line for line in body], index


def _file_header(lines: list[str], index: int) -> tuple[str, str] | None:
    old = _OLD.match(lines[index])
    new = _NEW.match(lines[index + 1]) if old and index + 1 < len(lines) else None
    return (old.group("path"), new.group("path")) if old and new else None
