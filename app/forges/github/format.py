"""Pure pieces of the GitHub forge: GitHub's size limits, truncation, request payloads.

No I/O here: `app/forges/github/forge.py`, `comments.py` and `checks.py` call
these, and unit tests check them without a server.
"""

from __future__ import annotations

from typing import Any

from app.forges.base import CheckUpdate, ForgeError, ReviewComment
from app.forges.mentions import quietly, utf8_size

COMMENT_MAX_CHARS = 65_536
CHECK_TEXT_MAX_BYTES = 65_535
CHECK_TITLE_MAX_CHARS = 255  # GitHub's limit on output.title isn't documented; be modest
MAX_CHECK_ACTIONS = 3
TRUNCATION_NOTE = "\n\n… (truncated: the full text was longer than GitHub allows)"
FILE_STATUS = {
    "added": "added",
    "removed": "removed",
    "renamed": "renamed",
    "copied": "added",
    "modified": "modified",
    "changed": "modified",
    "unchanged": "modified",
}


def truncate_chars(text: str, limit: int, note: str = TRUNCATION_NOTE) -> str:
    """Cut `text` to at most `limit` characters, ending with `note` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))] + note


def truncate_bytes(text: str, limit: int, note: str = TRUNCATION_NOTE) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes (never mid-character), ending with `note`."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = max(0, limit - len(note.encode()))
    return data[:room].decode("utf-8", errors="ignore") + note


def fit_chars(text: str, limit: int, note: str = TRUNCATION_NOTE) -> str:
    """`text` cut to `limit` characters, then quieted (`app/forges/mentions.py`)."""
    return quietly(lambda t, n: truncate_chars(t, n, note))(text, limit)


def fit_bytes(text: str, limit: int, note: str = TRUNCATION_NOTE) -> str:
    """`text` cut to `limit` UTF-8 bytes, then quieted."""
    return quietly(lambda t, n: truncate_bytes(t, n, note), utf8_size)(text, limit)


def check_run_payload(update: CheckUpdate) -> dict[str, Any]:
    """The JSON body for creating/updating a check run, cut to GitHub's limits and quieted."""
    payload: dict[str, Any] = {
        "status": update.status,
        "output": {
            "title": fit_chars(update.title or "AgentOps", CHECK_TITLE_MAX_CHARS, "…"),
            "summary": fit_bytes(update.summary or "-", CHECK_TEXT_MAX_BYTES),
        },
        "actions": [
            {
                "label": a.label[:20],
                "identifier": a.identifier[:20],
                "description": a.description[:40],
            }
            for a in update.actions[:MAX_CHECK_ACTIONS]
        ],
    }
    if update.text:
        payload["output"]["text"] = fit_bytes(update.text, CHECK_TEXT_MAX_BYTES)
    if update.conclusion is not None or update.status == "completed":
        payload["status"] = "completed"  # GitHub refuses "completed" without a conclusion
        payload["conclusion"] = update.conclusion or "neutral"
    if update.details_url:
        payload["details_url"] = update.details_url
    if update.external_id:
        payload["external_id"] = update.external_id
    return payload


def review_comment_payload(comment: ReviewComment) -> dict[str, Any]:
    """A review comment in GitHub's line-based form: a line of the diff's new side."""
    return {
        "path": comment.path,
        "line": comment.line,
        "side": "RIGHT",
        "body": fit_chars(comment.body, COMMENT_MAX_CHARS),
    }


def login_of(user: Any) -> str:
    """The login of a GitHub user object ("" when there is none)."""
    return str(user.get("login", "")) if isinstance(user, dict) else ""


def split_repo(repo: str) -> dict[str, str]:
    """`owner/name` as the `{owner}` and `{name}` URL variables."""
    owner, _, name = repo.partition("/")
    if not owner or not name:
        raise ForgeError(f"not a GitHub repository name: {repo!r} (expected owner/name)")
    return {"owner": owner, "name": name}
