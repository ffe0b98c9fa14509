"""Text AgentOps posts pings nobody: `@name` outside code becomes `` `@name` ``.

What a run posts carries words it did not choose: the model's summary, plan and review,
test names and test output from the repository. A steered model or a hostile test could
write `@org/security-team` or GitLab's `@all` and make the bot notify people on its behalf.
Both forges ignore mentions inside code, so each one outside code is put in a code span:
it still reads as `@name`, links nowhere and notifies no one. Fenced blocks and code spans
are left as they are (a review's `suggestion` block must apply unchanged).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from app.forges.base import CheckUpdate, ReviewComment

# GitHub: `@login`, `@org/team`; GitLab also `@user.name`, `@group/subgroup`, `@all`. A
# mention starts after a non-word character (not an e-mail address's local part).
_NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?"
_MENTION = re.compile(rf"(?<![\w`@./+-])@{_NAME}(?:/{_NAME})*")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")


def quiet_mentions(text: str) -> str:
    """`text` with every mention outside code put in a code span (pure)."""
    if "@" not in text:
        return text
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence is None and opened:
            out.append(_quiet_prose("".join(prose)))
            prose = []
            fence = opened.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            closed = _FENCE.match(line)
            if closed and closed.group(1)[0] == fence[0] and len(closed.group(1)) >= len(fence):
                fence = None
        else:
            prose.append(line)
    out.append(_quiet_prose("".join(prose)))
    return "".join(out)


def _quiet_prose(text: str) -> str:
    """Mentions quieted in text outside fenced blocks; code spans kept."""
    pieces: list[str] = []
    start = 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_MENTION.sub(_as_code, text[start : span.start()]))
        pieces.append(span.group(0))
        start = span.end()
    pieces.append(_MENTION.sub(_as_code, text[start:]))
    return "".join(pieces)


def _as_code(match: re.Match[str]) -> str:
    return f"`{match.group(0)}`"


def quiet_review(comments: Sequence[ReviewComment]) -> list[ReviewComment]:
    return [dataclasses.replace(c, body=quiet_mentions(c.body)) for c in comments]


def quiet_check(update: CheckUpdate) -> CheckUpdate:
    return dataclasses.replace(
        update,
        title=quiet_mentions(update.title),
        summary=quiet_mentions(update.summary),
        text=quiet_mentions(update.text),
    )
