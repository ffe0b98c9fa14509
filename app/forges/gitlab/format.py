"""Pure pieces of the GitLab forge: truncation, status and note rendering, diffs.

No I/O here: `app/forges/gitlab/forge.py` and `notes.py` call these, and unit tests
check them without a server.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.edits.review_positions import DiffLine
from app.forges.base import ChangedFile, CheckUpdate, ReviewComment
from app.forges.mentions import quietly

NOTE_LIMIT = 1_000_000  # characters GitLab accepts in one note
STATUS_DESCRIPTION_LIMIT = 255
TRUNCATION_NOTE = "\n\n…(truncated: this text was longer than GitLab allows in one note)"
CHECK_MARKER = "<!-- agentops:check -->"

# GitHub reaction names -> GitLab award emoji names.
EMOJI_NAMES = {
    "+1": "thumbsup",
    "-1": "thumbsdown",
    "laugh": "laughing",
    "hooray": "tada",
    "confused": "confused",
    "heart": "heart",
    "rocket": "rocket",
    "eyes": "eyes",
}

_CONCLUSION_STATES = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failed",
    "timed_out": "failed",
    "action_required": "failed",
    "cancelled": "canceled",
}
_ICONS = {
    "queued": "⏳",
    "in_progress": "🔄",
    "success": "✅",
    "failure": "❌",
    "cancelled": "⛔",
    "timed_out": "⌛",
    "neutral": "➖",
    "skipped": "⏭️",
    "action_required": "⚠️",
}


# ------------------------------------------------------------------ pure helpers
def truncate_note(text: str, limit: int = NOTE_LIMIT, note: str = TRUNCATION_NOTE) -> str:
    """Cut `text` to at most `limit` characters, saying that it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(note)] + note


def fit_note(text: str, limit: int = NOTE_LIMIT) -> str:
    """`text` cut to `limit` characters, then quieted (`app/forges/mentions.py`)."""
    return quietly(truncate_note)(text, limit)


def gitlab_emoji(name: str) -> str:
    return EMOJI_NAMES.get(name, name)


def commit_status_state(update: CheckUpdate) -> str:
    """GitLab commit status state for a check update."""
    if update.status == "queued":
        return "pending"
    if update.status == "in_progress":
        return "running"
    return _CONCLUSION_STATES.get(update.conclusion or "success", "failed")


def render_check_note(update: CheckUpdate) -> str:
    """The progress note's body; `CHECK_MARKER` lets a later run find it again."""
    icon = _ICONS.get(update.conclusion or update.status, "")
    parts = [f"{icon} **AgentOps: {update.title}**".strip(), update.summary, update.text]
    if update.details_url:
        parts.append(f"[Details]({update.details_url})")
    body = "\n\n".join(p for p in parts if p) + f"\n\n{CHECK_MARKER}"
    return truncate_note(body)


def draft_title(title: str, draft: bool) -> str:
    if not draft or title.lower().startswith(("draft:", "[draft]", "(draft)")):
        return title
    return f"Draft: {title}"


def clean_url(url: str) -> str:
    """Drop any user:password@ from a URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def basic_auth_header(token: str) -> str:
    encoded = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return f"Authorization: Basic {encoded}"


def mr_state(value: Any) -> str:
    """GitLab's `opened` is GitHub's `open`; `closed`, `merged`, `locked` stay."""
    state = str(value or "")
    return "open" if state == "opened" else state


def username_of(user: Any) -> str:
    return str(user.get("username", "")) if isinstance(user, dict) else ""


def changed_file(change: dict[str, Any]) -> ChangedFile:
    if change.get("new_file"):
        status = "added"
    elif change.get("deleted_file"):
        status = "removed"
    elif change.get("renamed_file"):
        status = "renamed"
    else:
        status = "modified"
    path = str(change.get("new_path") or change.get("old_path") or "")
    previous = str(change["old_path"]) if status == "renamed" else None
    return ChangedFile(
        path=path,
        status=status,
        previous_path=previous,
        patch=str(change.get("diff") or "") or None,
    )


def render_diff(changes: list[dict[str, Any]]) -> str:
    """A `git diff`-style unified diff from GitLab's per-file change entries."""
    out: list[str] = []
    for change in changes:
        old, new = str(change.get("old_path", "")), str(change.get("new_path", ""))
        out.append(f"diff --git a/{old} b/{new}")
        before, after = f"a/{old}", f"b/{new}"
        if change.get("new_file"):
            out.append(f"new file mode {change.get('b_mode', '100644')}")
            before = "/dev/null"
        elif change.get("deleted_file"):
            out.append(f"deleted file mode {change.get('a_mode', '100644')}")
            after = "/dev/null"
        else:
            if change.get("renamed_file"):
                out += [f"rename from {old}", f"rename to {new}"]
            if change.get("a_mode") and change.get("a_mode") != change.get("b_mode"):
                out += [f"old mode {change['a_mode']}", f"new mode {change['b_mode']}"]
        diff = str(change.get("diff") or "")
        if diff:
            out += [f"--- {before}", f"+++ {after}", diff.rstrip("\n")]
    return "\n".join(out) + "\n" if out else ""


def review_position(
    refs: dict[str, Any], comment: ReviewComment, where: DiffLine | None
) -> dict[str, Any]:
    """A discussion's text position on the new side; a context line needs its old line."""
    position: dict[str, Any] = {
        "position_type": "text",
        "base_sha": refs.get("base_sha"),
        "start_sha": refs.get("start_sha"),
        "head_sha": refs.get("head_sha"),
        "new_path": comment.path,
        "old_path": where.old_path if where is not None else comment.path,
        "new_line": comment.line,
    }
    if where is not None and where.old_line is not None:
        position["old_line"] = where.old_line
    return position
