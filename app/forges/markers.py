"""Hidden markers that let the bot find its own comments again (pure).

Every comment AgentOps posts ends with an HTML comment such as
`<!-- agentops:run=12 key=reply:delivered -->`, which GitHub and GitLab leave out when
they render markdown. A creation that may have been applied although it failed (a 5xx,
a dropped connection, a timeout), or a step that a resumed run does again, looks for the
marker instead of posting a second comment.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

PREFIX = "<!-- agentops:"
SUFFIX = " -->"
_ANY_MARKER = re.compile(r"\n*<!-- agentops:[^>]*? -->")
_KEY = re.compile(r"[A-Za-z0-9=:_./ -]+")


def run_key(run_id: int | str, purpose: str) -> str:
    """The stable key of one comment of one run: the same on every try and every worker."""
    return f"run={run_id} key={purpose}"


def once_key() -> str:
    """A key for a comment no run asked to find again: it only guards the call's own retry."""
    return f"once={uuid.uuid4().hex}"


def marker(key: str) -> str:
    if not _KEY.fullmatch(key) or "--" in key:
        raise ValueError(f"not a usable marker key: {key!r}")
    return f"{PREFIX}{key}{SUFFIX}"


def carries(body: str, key: str) -> bool:
    """Whether `body` carries the marker for `key`."""
    return marker(key) in body


def marked(body: str, key: str, limit: int, cut: Callable[[str, int], str]) -> str:
    """`body` ending with the marker for `key`, cut by `cut` so that both fit in `limit`.

    A marker for `key` already in `body` is moved to the end, so it survives the cut.
    """
    tag = marker(key)
    text = body.replace(tag, "").rstrip()
    suffix = f"\n\n{tag}"
    return cut(text, max(0, limit - len(suffix))) + suffix


def unmarked(body: str) -> str:
    """`body` without any AgentOps markers, to compare what a person sees."""
    return _ANY_MARKER.sub("", body).strip()
