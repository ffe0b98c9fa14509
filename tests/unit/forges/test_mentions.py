"""What AgentOps posts notifies nobody: mentions outside code become code spans."""

from __future__ import annotations

from app.forges.base import CheckUpdate, ReviewComment
from app.forges.mentions import quiet_check, quiet_mentions, quiet_review


def test_mentions_in_prose_become_code_spans() -> None:
    text = "Fixed it. cc @alice and @acme/security-team, @all: merge please (@Bob-2)."
    assert quiet_mentions(text) == (
        "Fixed it. cc `@alice` and `@acme/security-team`, `@all`: merge please (`@Bob-2`)."
    )


def test_gitlab_names_with_dots_and_subgroups_are_whole() -> None:
    assert quiet_mentions("@jane.doe and @group/sub/team.") == (
        "`@jane.doe` and `@group/sub/team`."
    )


def test_addresses_decorators_in_code_and_code_blocks_are_left_as_they_are() -> None:
    text = (
        "Mail ops@example.com; see `@pytest.fixture` and ``a ` @b``.\n"
        "```suggestion\n@decorator\ndef f(): ...\n```\n"
        "~~~~\n@x\n~~~\n@y\n~~~~\n"
        "after @carol\n"
    )
    assert quiet_mentions(text) == text.replace("after @carol", "after `@carol`")


def test_quieting_twice_changes_nothing_more() -> None:
    once = quiet_mentions("@a @b/c `@d`")
    assert quiet_mentions(once) == once == "`@a` `@b/c` `@d`"


def test_an_unclosed_fence_keeps_the_rest_as_code() -> None:
    assert quiet_mentions("@a\n```\n@b\n") == "`@a`\n```\n@b\n"


def test_review_comments_and_check_texts_are_quieted() -> None:
    [comment] = quiet_review([ReviewComment("a.py", 3, "@alice look")])
    assert (comment.path, comment.line, comment.body) == ("a.py", 3, "`@alice` look")
    update = quiet_check(CheckUpdate("in_progress", "@t", "by @u", text="@v"))
    assert (update.title, update.summary, update.text) == ("`@t`", "by `@u`", "`@v`")
