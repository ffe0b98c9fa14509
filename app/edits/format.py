"""Reading edit blocks out of a model's answer (the format is described in `app.edits`)."""

from __future__ import annotations

import re

from app.edits.edit import Edit, EditFormatError
from app.edits.unified import edits_from_unified_diff, looks_like_unified_diff

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\b(?P<rest>.*)$")
_NEW_FILE = re.compile(r"^\s*<{5,9}\s*(?:NEW\s+FILE|FILE)\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_END = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_NEW_FILE_END = re.compile(r"^\s*>{5,9}\s*(?:NEW\s+FILE|FILE|END)\s*$")
_ANY_MARKER = re.compile(r"^\s*(?:<{5,9}|>{5,9})\s*[A-Z]")
_HINT = re.compile(
    r"^\s*@@\s*(?:(?:line|lines|l\.?)\s*(?P<line>\d+)|-(?P<diff>\d+)(?:,\d+)?(?:\s+\+\d+(?:,\d+)?)?)"
    r"(?:\s*[-–,]\s*\d+)?\s*(?:@@.*)?$",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^\s*(?:```|~~~)(?P<info>.*)$")
_PATH_PREFIX = re.compile(r"^(?:file|path|filename|new file)\s*:\s*", re.IGNORECASE)


def parse_hint(line: str) -> int | None:
    """The line number of a `@@ line N` hint (also `@@ -N,M +N,M @@`), or None."""
    found = _HINT.match(line)
    if not found:
        return None
    return int(found.group("line") or found.group("diff"))


def parse_edits(model_text: str) -> list[Edit]:
    """Every edit block of `model_text`, in order; prose and code fences around them are ignored.

    Raises EditFormatError (a message for the model) when a block is cut short, has no file
    path, or cannot be split into its SEARCH and REPLACE parts. An answer without blocks
    that holds a unified diff is read as one edit per hunk (see app.edits.unified).
    """
    lines = model_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[Edit] = []
    index = 0
    last_path: str | None = None
    while index < len(lines):
        line = lines[index]
        search = _SEARCH.match(line)
        if search is None and not _NEW_FILE.match(line):
            index += 1
            continue
        number = len(edits) + 1
        path, hint = _path_and_hint(lines, index, last_path, number)
        if search is not None:
            rest_hint = parse_hint(search.group("rest").strip()) if search.group("rest") else None
            edit, index = _read_search_block(lines, index, path, rest_hint or hint, number)
        else:
            edit, index = _read_new_file_block(lines, index, path, number)
        edits.append(edit)
        last_path = path
    if not edits and looks_like_unified_diff(model_text):
        return edits_from_unified_diff(model_text)
    return edits


def _path_and_hint(
    lines: list[str], marker: int, last_path: str | None, number: int
) -> tuple[str, int | None]:
    hint: int | None = None
    for back in range(marker - 1, -1, -1):
        text = lines[back].strip()
        if not text:
            continue
        fence = _FENCE.match(text)
        if fence:
            candidate = _clean_path(fence.group("info").strip().split(":")[-1].split(" ")[-1])
            if _looks_like_path(candidate):
                return candidate, hint  # ```python:src/app.py
            continue
        if hint is None and parse_hint(text) is not None:
            hint = parse_hint(text)
            continue
        if _REPLACE_END.match(text) or _NEW_FILE_END.match(text):
            break
        candidate = _clean_path(text)
        if candidate and _looks_like_path(candidate):
            return candidate, hint
        break
    if last_path is not None:
        return last_path, hint
    raise EditFormatError(
        f"Block {number}: no file path. Put the file's path, relative to the repository "
        "root, alone on the line just above `<<<<<<< SEARCH`."
    )


def _clean_path(text: str) -> str:
    text = text.strip().lstrip("#").strip()
    text = _PATH_PREFIX.sub("", text)
    text = text.strip("*`'\" ").rstrip(":").strip("*`'\" ")
    return text


_NAMES_WITHOUT_DOT = frozenset(
    [
        "Makefile",
        "makefile",
        "GNUmakefile",
        "Dockerfile",
        "Containerfile",
        "Procfile",
        "Gemfile",
        "Rakefile",
        "Jenkinsfile",
        "Vagrantfile",
        "Justfile",
        "justfile",
        "LICENSE",
        "README",
        "CODEOWNERS",
    ]
)


def _looks_like_path(text: str) -> bool:
    if not text or " " in text or text.startswith(("<", ">", "=", "@@")):
        return False
    return "/" in text or "." in text or text in _NAMES_WITHOUT_DOT


def _read_search_block(
    lines: list[str], start: int, path: str, hint: int | None, number: int
) -> tuple[Edit, int]:
    end = _find_end(lines, start, _REPLACE_END, number, "`>>>>>>> REPLACE`")
    body = lines[start + 1 : end]
    if body and hint is None and parse_hint(body[0]) is not None:
        hint = parse_hint(body[0])
        body = body[1:]
    dividers = [i for i, text in enumerate(body) if _DIVIDER.match(text)]
    if len(dividers) > 1:
        exact = [i for i in dividers if body[i].strip() == "======="]
        dividers = exact if len(exact) == 1 else dividers
    if not dividers:
        raise EditFormatError(
            f"Block {number} ({path}): no `=======` line between SEARCH and REPLACE."
        )
    if len(dividers) > 1:
        raise EditFormatError(
            f"Block {number} ({path}): several `=======` lines; keep exactly one line of seven "
            "`=` between SEARCH and REPLACE, and make the SEARCH start or stop elsewhere."
        )
    split = dividers[0]
    edit = Edit(
        path=path,
        search=_join(body[:split]),
        replace=_join(body[split + 1 :]),
        line_hint=hint,
        number=number,
    )
    return edit, end + 1


def _read_new_file_block(lines: list[str], start: int, path: str, number: int) -> tuple[Edit, int]:
    end = _find_end(lines, start, _NEW_FILE_END, number, "`>>>>>>> NEW FILE`")
    content = _join(lines[start + 1 : end])
    return Edit(path=path, search="", replace=content, whole_file=True, number=number), end + 1


def _find_end(
    lines: list[str], start: int, end_marker: re.Pattern[str], number: int, wanted: str
) -> int:
    for index in range(start + 1, len(lines)):
        if end_marker.match(lines[index]):
            return index
        if _ANY_MARKER.match(lines[index]) and not _DIVIDER.match(lines[index]):
            break
    raise EditFormatError(f"Block {number}: it is not closed; end it with a {wanted} line.")


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
