"""Which paths an edit may write: the repository's own rules and the ones that always hold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

ALWAYS_FORBIDDEN = (".agentops.yml", ".agentops.yaml")
# What runs in CI or decides how git treats the tree: directories (prefixes), exact
# paths, and name endings at any depth (GitLab's included files).
CI_DIRECTORIES = (".github/workflows/", ".github/actions/")
CI_FILES = (".gitmodules",)
CI_NAMES = (".gitattributes",)
CI_NAME_ENDINGS = (".gitlab-ci.yml",)


@dataclass(frozen=True)
class EditPolicy:
    """What `apply_edits` may do.

    forbidden: glob patterns of repository paths the bot may not touch (`.agentops.yml`).
        `*` and `?` stay within one path segment, `**` spans segments, a pattern without
        `/` matches a name at any depth, and a pattern matching a directory covers
        everything below it (`vendor/`, `docs/**`, `*.lock`, `src/generated`).
    allow_workflows: whether CI definitions may be written: `.github/workflows/**`,
        `.github/actions/**`, any `.gitlab-ci.yml` or `*.gitlab-ci.yml`, `.gitmodules`
        and any `.gitattributes`.
    check_syntax: refuse a file that parsed before the edits and does not after (and a
        new file that does not parse), for the languages the code map reads.
    all_or_nothing: write nothing at all when any edit is refused.
    """

    forbidden: tuple[str, ...] = ()
    allow_workflows: bool = False
    check_syntax: bool = True
    all_or_nothing: bool = False


class PathRefused(ValueError):
    """A path the edit may not write; the message is meant for the model."""


_DRIVE = re.compile(r"^[A-Za-z]:")


def checked_path(path: str, policy: EditPolicy) -> str:
    """The path in normal form (relative, `/`-separated), or PathRefused saying why not."""
    text = path.strip()
    if not text:
        raise PathRefused("the file path is empty.")
    if "\x00" in text or any(ord(ch) < 32 for ch in text):
        raise PathRefused("the file path contains control characters.")
    if "\\" in text:
        raise PathRefused("use `/` between the parts of a path, not `\\`.")
    if text.startswith(("/", "~")) or _DRIVE.match(text):
        raise PathRefused(
            "the path is absolute; give it relative to the repository root, like `src/app.py`."
        )
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts:
        raise PathRefused("the file path names no file.")
    if any(len(part.encode()) > 255 for part in parts) or len(text.encode()) > 1024:
        raise PathRefused("the file path is too long.")
    if ".." in parts:
        raise PathRefused("the path leaves the repository (`..`); stay inside it.")
    if any(part.lower() == ".git" for part in parts):
        raise PathRefused("files inside `.git` are not part of the repository's content.")
    normal = "/".join(parts)
    if normal.lower() in ALWAYS_FORBIDDEN:
        raise PathRefused(f"`{normal}` holds AgentOps' own settings; a person must change it.")
    if not policy.allow_workflows and is_ci_definition(normal):
        raise PathRefused(
            f"`{normal}` is a CI definition, and this repository does not let AgentOps change "
            "CI definitions (allow it in `.agentops.yml`)."
        )
    for pattern in policy.forbidden:
        if matches_glob(normal, pattern):
            raise PathRefused(
                f"`{normal}` is a path this repository does not let AgentOps touch "
                f"(`{pattern}` in `.agentops.yml`)."
            )
    return normal


def is_ci_definition(path: str) -> bool:
    """Whether a normal repository path is a CI definition (see `EditPolicy`; pure)."""
    lowered = path.lower()
    name = lowered.rsplit("/", 1)[-1]
    return (
        lowered.startswith(CI_DIRECTORIES)
        or lowered in CI_FILES
        or name in CI_NAMES
        or name.endswith(CI_NAME_ENDINGS)
    )


def matches_glob(path: str, pattern: str) -> bool:
    """Whether a repository path falls under a forbidden-path pattern (see EditPolicy)."""
    return _compiled(pattern).match(path) is not None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    text = pattern.strip()
    anchored = text.startswith("/")
    text = text.strip("/")
    if not text:
        return re.compile(r"(?!)")
    prefix = "" if anchored or "/" in text else r"(?:.*/)?"
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("**/", index):
            out.append(r"(?:.*/)?")
            index += 3
        elif text.startswith("**", index):
            out.append(r".*")
            index += 2
        elif text[index] == "*":
            out.append(r"[^/]*")
            index += 1
        elif text[index] == "?":
            out.append(r"[^/]")
            index += 1
        elif text[index] == "[" and "]" in text[index + 2 :]:
            close = text.index("]", index + 2)
            inner = text[index + 1 : close].replace("\\", "\\\\")
            out.append("[^" + inner[1:] + "]" if inner.startswith("!") else "[" + inner + "]")
            index = close + 1
        else:
            out.append(re.escape(text[index]))
            index += 1
    return re.compile(prefix + "".join(out) + r"(?:/.*)?\Z", re.DOTALL)
