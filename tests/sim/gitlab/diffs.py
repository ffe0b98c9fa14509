"""Merge request diffs from git, as GitLab shows them (`changes`, `diffs`), and the
positions a diff note may take on them."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.sim.git_http import rev_parse
from tests.sim.gitlab.state import SimProject
from tests.sim.skeleton import SimError

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
# Requests are answered concurrently; two `git fetch` into one bare repository at once
# can fail on git's lock files, which left a fork's diff empty now and then.
_FETCH_LOCK = threading.Lock()


def git(bare: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "core.quotepath=off", *args], cwd=bare, capture_output=True, text=True
    )
    return done.stdout


def sha_exists(bare: Path, sha: str) -> bool:
    return rev_parse(bare, f"{sha}^{{commit}}") is not None


def _fetch_from_fork(proj: SimProject, source: SimProject, head: str) -> None:
    with _FETCH_LOCK:
        if not sha_exists(proj.bare, head):
            git(proj.bare, "fetch", "-q", str(source.bare), head)


def merge_base(proj: SimProject, source: SimProject, target: str, head: str) -> str | None:
    if source.id != proj.id:
        _fetch_from_fork(proj, source, head)
    return git(proj.bare, "merge-base", target, head).strip() or None


def diff_line_kinds(diff: str) -> tuple[set[int], set[int], dict[int, int]]:
    """Of one file's hunks: added new lines, removed old lines, context new -> old line."""
    added: set[int] = set()
    removed: set[int] = set()
    context: dict[int, int] = {}
    old = new = 0
    for line in diff.splitlines():
        header = _HUNK_HEADER.match(line)
        if header:
            old, new = int(header.group(1)), int(header.group(2))
        elif line.startswith("+"):
            added.add(new)
            new += 1
        elif line.startswith("-"):
            removed.add(old)
            old += 1
        elif line.startswith(" "):
            context[new] = old
            old, new = old + 1, new + 1
    return added, removed, context


def _change_entry(header_lines: list[str]) -> dict[str, Any]:
    old_path = new_path = ""
    match = re.match(r"a/(.*) b/(.*)$", header_lines[0])
    if match:
        old_path, new_path = match.group(1), match.group(2)
    entry: dict[str, Any] = {
        "new_file": False,
        "deleted_file": False,
        "renamed_file": False,
        "generated_file": False,
        "a_mode": "100644",
        "b_mode": "100644",
        "too_large": False,
        "collapsed": False,
    }
    for line in header_lines[1:]:
        if line.startswith("new file mode "):
            entry["new_file"] = True
            entry["a_mode"], entry["b_mode"] = "0", line.split()[-1]
        elif line.startswith("deleted file mode "):
            entry["deleted_file"] = True
            entry["a_mode"], entry["b_mode"] = line.split()[-1], "0"
        elif line.startswith("rename from "):
            entry["renamed_file"] = True
            old_path = line[len("rename from ") :]
        elif line.startswith("rename to "):
            new_path = line[len("rename to ") :]
        elif line.startswith("old mode "):
            entry["a_mode"] = line.split()[-1]
        elif line.startswith("new mode "):
            entry["b_mode"] = line.split()[-1]
        elif line.startswith("index ") and len(line.split()) == 3:
            entry["a_mode"] = entry["b_mode"] = line.split()[-1]
    entry["old_path"], entry["new_path"] = old_path, new_path
    return entry


def git_changes(proj: SimProject, source: SimProject, base: str, head: str) -> list[dict[str, Any]]:
    """GitLab's `changes`/`diffs` entries for the diff base..head."""
    if source.id != proj.id:
        _fetch_from_fork(proj, source, head)
    text = git(proj.bare, "diff", "-M", "--no-color", "--no-ext-diff", base, head)
    changes = []
    for chunk in re.split(r"^diff --git ", text, flags=re.M)[1:]:
        header, sep, rest = chunk.partition("\n@@")
        entry = _change_entry(header.splitlines())
        entry["diff"] = "@@" + rest if sep else ""
        changes.append(entry)
    return changes


def _line(given: dict[str, Any], key: str) -> int | None:
    if not given.get(key):
        return None
    try:
        return int(str(given[key]))
    except ValueError:
        return 0


def checked_position(
    refs: dict[str, Any], changes: list[dict[str, Any]], given: dict[str, Any]
) -> dict[str, Any]:
    """A text position checked as GitLab does: the MR's current diff `refs`, and a line
    that is in a hunk (an added line: new_line; removed: old_line; context: both)."""
    invalid = SimError(
        400,
        '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}',
    )
    if given.get("position_type") != "text":
        raise SimError(400, "position[position_type] does not have a valid value")
    for key in ("base_sha", "start_sha", "head_sha"):
        if not given.get(key):
            raise SimError(400, f"position[{key}] is missing")
        if given[key] != refs[key]:
            raise invalid
    new_line, old_line = _line(given, "new_line"), _line(given, "old_line")
    new_path = given.get("new_path") or given.get("old_path")
    change = next((c for c in changes if c["new_path"] == new_path), None)
    if change is None or (new_line is None and old_line is None):
        raise invalid
    added, removed, context = diff_line_kinds(str(change["diff"]))
    if new_line is not None and old_line is None:
        valid = new_line in added
    elif old_line is not None and new_line is None:
        valid = old_line in removed
    else:
        valid = context.get(new_line or 0) == old_line
    if not valid:
        raise invalid
    return {
        "base_sha": refs["base_sha"],
        "start_sha": refs["start_sha"],
        "head_sha": refs["head_sha"],
        "position_type": "text",
        "old_path": given.get("old_path") or change["old_path"],
        "new_path": new_path,
        "old_line": old_line,
        "new_line": new_line,
        "line_range": None,
    }
