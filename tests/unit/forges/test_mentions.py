"""What AgentOps posts notifies nobody: mentions outside code become code spans."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.forges.base import CheckUpdate, ReviewComment
from app.forges.github.format import truncate_bytes, truncate_chars
from app.forges.mentions import quiet_check, quiet_mentions, quiet_review, quietly, utf8_size


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


def test_an_unclosed_fence_is_not_trusted_as_code() -> None:
    # a forge may close it where we don't (or text after a cut may): look-alikes
    assert quiet_mentions("@a\n```\n@b\n") == "`@a`\n```\n＠b\n"


def test_review_comments_and_check_texts_are_quieted() -> None:
    [comment] = quiet_review([ReviewComment("a.py", 3, "@alice look")])
    assert (comment.path, comment.line, comment.body) == ("a.py", 3, "`@alice` look")
    update = quiet_check(CheckUpdate("in_progress", "@t", "by @u", text="@v"))
    assert (update.title, update.summary, update.text) == ("`@t`", "by `@u`", "`@v`")


@pytest.mark.parametrize(
    ("text", "quieted"),
    [
        ("x -@all y", "x -`@all` y"),
        ("x /@all y", "x /`@all` y"),
        ("x .@all y", "x .`@all` y"),
        ("x +@all y", "x +`@all` y"),
        ("x @@all y", "x @`@all` y"),
        ("x _@all y", "x _`@all` y"),
        ("x é@all y", "x é`@all` y"),  # not an ASCII word character: the forges mention
        ("a lone `@all and more", "a lone `＠all and more"),
        ("x \\@all y", "x \\＠all y"),  # a backtick after a backslash would be escaped
        ("x `y`@all", "x `y`＠all"),
        ("x &#64;all &#x40;all &commat;all", "x ＠all ＠all ＠all"),
        # the name's first letter as an entity or an escape: Markdown renders `@all`
        ("x @&#97;ll y", "x ＠&#97;ll y"),
        ("x @&#x61;lice y", "x ＠&#x61;lice y"),
        ("x &#64;&#97;lice y", "x ＠&#97;lice y"),
        ("x @\\_alice y", "x ＠\\_alice y"),
    ],
)
def test_every_shape_of_mention_is_quieted(text: str, quieted: str) -> None:
    assert quiet_mentions(text) == quieted


def test_email_addresses_stay() -> None:
    text = "write to a.b@c.example or ops-team+x@example.com (a@b)"
    assert quiet_mentions(text) == text


@pytest.mark.parametrize(
    ("text", "quieted"),
    [
        # no escapes in a code span: `a\` is one, and a lone backtick follows @all
        ("`a\\`@all`", "`a\\`＠all`"),
        # a backtick of ours would let the second @ start a text node
        ("@all@all", "＠all@all"),
        # a code span cannot cross a blank line
        ("a `b\n\n@all` c", "a `b\n\n＠all` c"),
        # nor start on an earlier line the forge may read as another block
        ("a `\n# x `@all` y", "a `\n# x `＠all` y"),
        # not a fence: an info string with a backtick
        ("```a`b\n@all\n```", "```a`b\n＠all\n```"),
        # an indented fence may end with its list item
        ("- a\n  ```\n@all\n  ```", "- a\n  ```\n＠all\n  ```"),
        # HTML blocks: no Markdown inside, so no code span either
        ("<div>\n`@all`\n```\n@b\n```", "<div>\n`＠all`\n```\n＠b\n```"),
        ("> <code>\n> @all", "> <code>\n> ＠all"),
        ("<!--\n\n-->\n@all", "<!--\n\n-->\n＠all"),
        ("x <code>@all</code>", "x <code>＠all</code>"),
        # a table splits code spans at pipes
        ("| `a | @all` |", "| `a | ＠all` |"),
        # math may read backticks otherwise
        ("$`@all`$", "$`＠all`$"),
        # GitLab's >>> ends a quote even inside a code block
        (">>>\n```\n>>>\n@all\n```", ">>>\n```\n>>>\n＠all\n```"),
        # GitLab's front matter
        ("---\n```\n---\n@all\n```", "---\n```\n---\n＠all\n```"),
        # indented code
        ("    @all", "    `@all`"),
        # lines end only at \n, \r, \r\n
        ("```\n@a\u2028```\n@all", "```\n＠a\u2028```\n＠all"),
    ],
)
def test_whatever_may_not_be_code_is_quieted(text: str, quieted: str) -> None:
    assert quiet_mentions(text) == quieted


SUGGESTION = "```suggestion\n@decorator\ndef f(x: int) -> int:  # @all\n    return x\n```\n"


def test_suggestion_blocks_stay_byte_identical() -> None:
    body = "Use this, @all:\n\n" + SUGGESTION + "\n~~~~\n@x\n~~~\n~~~~\n"
    assert quiet_mentions(body) == body.replace("this, @all", "this, `@all`")


def test_a_cut_inside_a_code_span_does_not_uncode_a_mention() -> None:
    body = "x" * 90 + " `@all` and more"
    cut = truncate_chars(body, 96, note="…")  # ends with "`@al…": the span is gone
    assert "`@al…" in cut
    fitted = quietly(lambda t, n: truncate_chars(t, n, note="…"))(body, 96)
    assert fitted.endswith("＠al…") and len(fitted) <= 96


def test_quieted_text_still_fits_the_limit() -> None:
    body = "@a " * 100
    for limit in (10, 50, 299, 300, 301):
        fitted = quietly(truncate_chars)(body, limit)
        assert len(fitted) <= max(
            limit, len("\n\n… (truncated: the full text was longer than GitHub allows)")
        )
    fitted = quietly(truncate_bytes, utf8_size)("é @all " * 1000, 500)
    assert utf8_size(fitted) <= 500 and "@all" not in fitted.replace("`@all`", "")


# A mention GitHub or GitLab could still see: an "@" + name not after an ASCII letter or
# digit, and not quieted (in a code span of ours, or the look-alike).
HOSTILE = st.lists(
    st.sampled_from(
        [
            "@all",
            "@a/b",
            "`",
            "``",
            "```",
            "~~~",
            "\\",
            "<",
            ">",
            "$",
            "|",
            " ",
            "\n",
            "\n\n",
            "-",
            "x",
            "- ",
            "    ",
            "&#64;x",
            ">>>",
            "<div>",
            "---",
            "```suggestion",
        ]
    ),
    max_size=30,
).map("".join)


def _fenced_regions(text: str) -> str:
    """`text` without the blocks quiet_mentions keeps: closed fences at column 0."""
    return re.sub(r"(?ms)^(`{3,}|~{3,})[^\n]*\n.*?^ {0,3}\1[`~]*[ \t]*$", "", text)


@settings(max_examples=500, deadline=None)
@given(HOSTILE)
def test_no_unquoted_mention_survives(text: str) -> None:
    quieted = quiet_mentions(text)
    assert quiet_mentions(quieted) == quieted  # idempotent
    bare = re.compile(r"(?<![A-Za-z0-9`])(?:@|&#0*64;)[A-Za-z0-9_.-]")
    outside = _fenced_regions(quieted)
    for found in bare.finditer(outside):
        # only inside a code span of a plain line may an @ stay as it is
        start = outside.rfind("\n", 0, found.start()) + 1
        line = outside[start:].split("\n", 1)[0]
        at = found.start() - start
        opened, closed = line.rfind("`", 0, at), line.find("`", at)
        assert "<" not in line and "$" not in line, (text, quieted)
        assert opened >= 0 and closed > at and "|" not in line[opened:closed], (text, quieted)


def test_check_runs_comments_and_notes_are_quieted_after_their_cut() -> None:
    from app.forges.github import format as github
    from app.forges.gitlab import format as gitlab
    from app.forges.markers import marked

    def cut_inside(room: int) -> str:  # a body whose cut to `room` ends with "`@al"
        return "x" * (room - 4) + "`@all` " + "y" * 100

    note = github.TRUNCATION_NOTE
    payload = github.check_run_payload(
        CheckUpdate(
            "completed",
            "t",
            cut_inside(github.CHECK_TEXT_MAX_BYTES - len(note.encode())),
            text=cut_inside(github.CHECK_TEXT_MAX_BYTES - len(note.encode())),
        )
    )
    attack = truncate_bytes(cut_inside(100 - len(note.encode())), 100)
    assert attack.endswith("`@al" + note)  # a plain cut un-codes the mention
    suffix = len("\n\n<!-- agentops:run=1 key=x -->")
    limit = github.COMMENT_MAX_CHARS
    comment = marked(cut_inside(limit - suffix - len(note)), "run=1 key=x", limit, github.fit_chars)
    limit, note = gitlab.NOTE_LIMIT, gitlab.TRUNCATION_NOTE
    gitlab_note = gitlab.fit_note(cut_inside(limit - len(note)))
    posted = [payload["output"]["summary"], payload["output"]["text"], comment, gitlab_note]
    for text in posted:
        assert not re.search(r"@[a-z]", text.replace("`@all`", "")), text[-80:]
    assert all(len(t.encode()) <= github.CHECK_TEXT_MAX_BYTES for t in posted[:2])
    assert len(comment) <= github.COMMENT_MAX_CHARS and len(gitlab_note) <= gitlab.NOTE_LIMIT


def test_a_review_suggestion_reaches_the_forge_unchanged() -> None:
    from app.forges.github.format import review_comment_payload
    from app.forges.gitlab.format import fit_note

    [comment] = quiet_review([ReviewComment("a.py", 2, "Rather, @all:\n\n" + SUGGESTION)])
    github_body = review_comment_payload(comment)["body"]
    assert github_body == fit_note(comment.body) == "Rather, `@all`:\n\n" + SUGGESTION
