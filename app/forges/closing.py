"""Closing keywords a model wrote close nothing (pure).

GitHub closes an issue when a pull request whose description (or a commit message on the
default branch) says `Closes #N`, `Fixes owner/repo#N`, `Resolves <issue URL>` is merged;
GitLab does the same for `Closes`, `Fixes`, `Resolves`, `Implements` and their `-ing`
forms, also before `issue #N` and Jira keys. A steered model could use that to close
issues that have nothing to do with its change. `disarm_closing_keywords` puts a WORD
JOINER (U+2060, invisible) after each such keyword in text AgentOps did not write: the
keyword no longer stands before spaces and a reference, so neither forge acts on it. The
bot's own `Closes #<the issue>` line is added after, untouched.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_KEYWORD = r"clos(?:e[sd]?|ing)|fix(?:e[sd]|ing)?|resolv(?:e[sd]?|ing)|implement(?:s|ed|ing)?"
# what may come between the keyword and a reference (Markdown emphasis included: a
# forge may read the rendered text), and what a reference starts with
_BETWEEN = r"[\s:*_~`>]*(?:issues?[\s:*_~`]+)?"
_REFERENCE = r"(?:#|gh-|https?://|[\w.-]+(?:/[\w.-]+)*[#!]\d|[A-Z][A-Z0-9_]+-\d)"
# word boundaries as the forges' engines see them: ASCII only (Python's `\b` takes `①` or
# `²` for a letter, and would leave `①Closes #1` alone)
_CLOSING = re.compile(
    rf"(?<![A-Za-z0-9_])(?:{_KEYWORD})(?![A-Za-z0-9_])(?={_BETWEEN}{_REFERENCE})", re.IGNORECASE
)


def disarm_closing_keywords(text: str) -> str:
    """`text` with every closing keyword that stands before a reference disarmed."""
    return _CLOSING.sub(lambda m: m.group(0) + WORD_JOINER, text)
