"""Which files of a commit the web process writes to disk for the code map (pure).

The commit's tree is untrusted: `git ls-tree -r -l -z` lists it, and only what the code
map reads is kept: regular files (no link, no submodule) of a known language, not in a
vendored or build folder, no larger than the code map indexes, at a path that stays in
the folder and out of any `.git`. A tree with more entries, or more bytes to keep, than
the limits is refused whole: a bomb of names or of bytes costs the listing's first
MAX_ENTRIES entries, read as they come (`iter_ls_tree_long`), no disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.codemap.discover import SkipRules
from app.codemap.languages import language_for_path
from app.git_export import TreeEntry, iter_ls_tree_long

MAX_ENTRIES = 200_000  # files of the commit, of any kind
MAX_KEPT_BYTES = 512 * 1024 * 1024  # what is written to disk
_REGULAR = ("100644", "100755")


class TreeRefused(ValueError):
    """The commit's tree is beyond a limit; the message says which."""


@dataclass
class Selection:
    blobs: list[tuple[str, str, str]] = field(default_factory=list)  # (mode, oid, path)
    bytes: int = 0
    links: int = 0
    too_large: int = 0
    bad_paths: int = 0
    not_code: int = 0


def parse_ls_tree_long(listing: str) -> list[TreeEntry]:
    """The entries of `git ls-tree -r -l -z` output."""
    return list(iter_ls_tree_long([listing.encode()]))


def safe_path(path: str) -> bool:
    """Relative, with no empty, `.` or `..` part, no `.git` folder (any case), no
    backslash and no control character."""
    if not path or path.startswith("/") or "\\" in path:
        return False
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return False
    parts = path.split("/")
    return all(p not in ("", ".", "..") and p.lower() != ".git" for p in parts)


def select_files(
    entries: Iterable[TreeEntry],
    rules: SkipRules | None = None,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_KEPT_BYTES,
) -> Selection:
    """The blobs to write, or `TreeRefused` when the tree is beyond a limit."""
    rules = rules or SkipRules()
    chosen = Selection()
    for seen, entry in enumerate(entries, 1):
        if seen > max_entries:  # refused before the rest of the listing is read
            raise TreeRefused(f"the commit has more than {max_entries} files")
        if entry.kind != "blob":
            continue  # a submodule
        if not safe_path(entry.path):
            chosen.bad_paths += 1
        elif entry.mode not in _REGULAR:
            chosen.links += 1
        elif language_for_path(entry.path) is None or rules.skips_path(entry.path):
            chosen.not_code += 1
        elif entry.size is None or entry.size > rules.max_bytes:
            chosen.too_large += 1
        else:
            chosen.blobs.append((entry.mode, entry.oid, entry.path))
            chosen.bytes += entry.size
            if chosen.bytes > max_bytes:
                raise TreeRefused(
                    f"the commit's source files hold more than {max_bytes // 1_000_000} MB"
                )
    return chosen
