"""Closing keywords a model wrote close nothing; the bot's own line still does."""

from __future__ import annotations

import re

import pytest

from app.forges.closing import WORD_JOINER, disarm_closing_keywords

# Close enough to GitHub's and GitLab's own patterns to tell whether they would close.
# the forges' engines (Ruby, Go) see word boundaries in ASCII
FORGE_CLOSES = re.compile(
    r"(?<![A-Za-z0-9_])"
    r"(?:clos(?:e[sd]?|ing)|fix(?:e[sd]|ing)?|resolv(?:e[sd]?|ing)|implement(?:s|ed|ing)?)"
    r":? +(?:issues? +)?(?:(?:[\w.-]+(?:/[\w.-]+)*)?#\d+|https?://)",
    re.IGNORECASE,
)


@pytest.mark.parametrize(
    "text",
    [
        "Closes #12",
        "fixes: #3, #4 and #5",
        "This RESOLVES acme/other#9.",
        "Resolved https://github.com/acme/other/issues/2",
        "closing issue #7",
        "Implements group/sub/project#8",
        "Fixed #1\nFixes #2",
        "①Closes #12",  # not an ASCII letter: a word boundary for the forges' engines
        "²Fixes #3",
    ],
)
def test_model_written_closing_keywords_are_disarmed(text: str) -> None:
    assert FORGE_CLOSES.search(text)
    disarmed = disarm_closing_keywords(text)
    assert not FORGE_CLOSES.search(disarmed)
    assert disarmed.replace(WORD_JOINER, "") == text  # reads the same


def test_words_that_close_nothing_are_left_alone() -> None:
    text = "Fixed the parser; it closes the file and resolves paths."
    assert disarm_closing_keywords(text) == text


def test_pull_request_bodies_and_commit_messages_close_only_the_issue() -> None:
    from app.forges.base import Issue, Target
    from app.step_records import Changed
    from app.workflow.deliver import pull_request_body
    from app.workflow.pr_fix import fix_commit_message
    from app.workflow.pr_tests import message_for_tests

    issue = Issue(Target("acme/app", "issue", 4), "Bug", "", "alice", "open")
    changed = Changed(
        diff="",
        summary="Done. Fixes #1, closes acme/other#2.",
        tests=[],
        test_command="pytest",
        verification="output: Resolves #3",
    )
    body = pull_request_body(issue, "Plan: implement #5", changed, run_id=9)
    assert [m.group(0) for m in FORGE_CLOSES.finditer(body)] == ["Closes #4"]
    for message in (
        fix_commit_message("#7", "fix #8 too", "Fix #6 crash\n\nResolves #1"),
        message_for_tests("!7", "Closes #9", ["t"]),
    ):
        assert not FORGE_CLOSES.search(message), message


def test_the_fallback_commit_message_closes_only_the_issue() -> None:
    from app.workflow.deliver import fallback_message

    # the issue's title is the issue author's words; the pull request's title comes from it
    message = fallback_message(4, "Crash on start. Fixes #1, closes acme/other#2")
    assert [m.group(0) for m in FORGE_CLOSES.finditer(message)] == ["Resolves #4"]
