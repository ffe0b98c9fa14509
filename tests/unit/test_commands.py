"""The `/agentops …` comment grammar and the label rules."""

from __future__ import annotations

import pytest

from app.commands import (
    COMMANDS,
    DEFAULT_LABELS,
    Command,
    CommandName,
    TargetKind,
    command_for_label,
    help_text,
    operator_owns_label,
    parse_comment,
    repository_label_command,
    wrong_target_reason,
)

# --- parse_comment -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["implement", "plan", "test", "review", "fix", "status", "cancel", "retry", "help"]
)
def test_every_command_is_recognised(name: CommandName) -> None:
    assert parse_comment(f"/agentops {name}") == Command(name)


def test_the_command_list_is_the_documented_one() -> None:
    assert set(COMMANDS) == {
        "implement",
        "plan",
        "test",
        "review",
        "fix",
        "status",
        "cancel",
        "retry",
        "help",
    }


@pytest.mark.parametrize(
    "body", ["/AgentOps IMPLEMENT", "/AGENTOPS implement", "/agentops Implement"]
)
def test_commands_are_case_insensitive(body: str) -> None:
    assert parse_comment(body) == Command("implement")


@pytest.mark.parametrize("body", ["  /agentops plan", "\t/agentops plan", "   /agentops   plan  "])
def test_leading_and_surrounding_spaces_are_allowed(body: str) -> None:
    assert parse_comment(body) == Command("plan")


def test_free_text_after_the_command_is_kept() -> None:
    assert parse_comment("/agentops implement   use the new API please ") == Command(
        "implement", "use the new API please"
    )


def test_the_command_may_be_on_any_line() -> None:
    body = "Thanks for the report!\r\n\r\n/agentops plan keep it small\r\nmore words"
    assert parse_comment(body) == Command("plan", "keep it small")


def test_the_first_command_wins() -> None:
    assert parse_comment("/agentops review\n/agentops implement") == Command("review")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "no command here",
        "please run /agentops implement",  # not at the start of the line
        "`/agentops implement`",  # inline code
        "- /agentops implement",  # a list item is prose about the command
        "/agentopsimplement",
        "/agentops-bot is the name of the app",
        "/agentops/implement",
        "/agentop implement",
    ],
)
def test_no_command(body: str) -> None:
    assert parse_comment(body) is None


@pytest.mark.parametrize(
    "body",
    [
        "```\n/agentops implement\n```",
        "~~~\n/agentops implement\n~~~",
        "```bash\n/agentops implement\n```",
        "   ```\n/agentops implement\n   ```",
        "````\n```\n/agentops implement\n````",  # a shorter fence does not close
        "~~~\n```\n/agentops implement\n```\n~~~",  # another fence char does not close
        "```\nnever closed\n/agentops implement",
    ],
)
def test_commands_inside_code_fences_do_not_count(body: str) -> None:
    assert parse_comment(body) is None


def test_a_command_after_a_closed_fence_counts() -> None:
    body = "```\n/agentops implement\n```\n/agentops plan"
    assert parse_comment(body) == Command("plan")


@pytest.mark.parametrize(
    "body",
    [
        "> /agentops implement",
        ">/agentops implement",
        "  > /agentops implement",
        "> > /agentops implement",
        "> quoting you:\n> /agentops implement",
    ],
)
def test_commands_inside_quotes_do_not_count(body: str) -> None:
    assert parse_comment(body) is None


def test_a_reply_quoting_a_command_and_issuing_another() -> None:
    body = "> /agentops implement\n\nSure, but first:\n/agentops plan"
    assert parse_comment(body) == Command("plan")


@pytest.mark.parametrize("body", ["/agentops", "/agentops  ", "/AGENTOPS"])
def test_bare_agentops_is_help(body: str) -> None:
    assert parse_comment(body) == Command("help")


def test_unknown_command_answers_with_help_naming_the_word() -> None:
    command = parse_comment("/agentops deploy to production")
    assert command is not None
    assert command.name == "help"
    assert command.unknown == "deploy"
    assert "`deploy`" in help_text(command.unknown)


def test_fix_takes_its_text_from_the_same_line() -> None:
    assert parse_comment("/agentops fix rename foo to bar") == Command("fix", "rename foo to bar")


def test_fix_alone_takes_the_following_lines_without_quotes() -> None:
    body = "> earlier remark\n/agentops fix\nrename foo to bar\n> not this\nand add a test\n"
    assert parse_comment(body) == Command("fix", "rename foo to bar\nand add a test")


def test_other_commands_do_not_take_following_lines() -> None:
    assert parse_comment("/agentops plan\nsome context") == Command("plan")


# --- labels ------------------------------------------------------------------------------


def test_default_labels() -> None:
    assert command_for_label("agentops", "issue", DEFAULT_LABELS) == Command("implement")
    assert command_for_label("agentops:plan", "issue", DEFAULT_LABELS) == Command("plan")
    assert command_for_label("agentops:test", "pull_request", DEFAULT_LABELS) == Command("test")
    assert command_for_label("agentops:review", "pull_request", DEFAULT_LABELS) == Command("review")


def test_labels_match_case_insensitively() -> None:
    assert command_for_label("AgentOps", "issue", DEFAULT_LABELS) == Command("implement")


def test_a_label_on_the_wrong_kind_of_target_starts_nothing() -> None:
    assert command_for_label("agentops", "pull_request", DEFAULT_LABELS) is None
    assert command_for_label("agentops:test", "issue", DEFAULT_LABELS) is None


def test_unrelated_labels_start_nothing() -> None:
    assert command_for_label("bug", "issue", DEFAULT_LABELS) is None
    assert command_for_label("agentops:deploy", "issue", DEFAULT_LABELS) is None


def test_labels_are_configurable() -> None:
    labels = {"ai-please": "implement", "ai-tests": "test", "broken": "deploy"}
    assert command_for_label("ai-please", "issue", labels) == Command("implement")
    assert command_for_label("ai-tests", "pull_request", labels) == Command("test")
    assert command_for_label("broken", "issue", labels) is None  # maps to no command
    assert command_for_label("agentops", "issue", labels) is None  # defaults replaced


def test_the_operator_owns_its_labels_in_any_case() -> None:
    assert operator_owns_label("agentops", DEFAULT_LABELS)
    assert operator_owns_label("AgentOps:Test", DEFAULT_LABELS)
    assert operator_owns_label("bot-please", {"Bot-Please": "plan"})
    assert not operator_owns_label("bug", DEFAULT_LABELS)
    assert not operator_owns_label("agentops", {"ai": "implement"})  # defaults replaced


REPO_LABELS = {
    "bot-please": "implement",
    "needs-tests": "test",
    "Plan-It": "plan",
    "agentops": "review",
    "agentops:test": "implement",
    "deploy": "deploy",
}


def test_repository_labels_start_their_command_where_it_fits() -> None:
    def pick(added: list[str], kind: TargetKind) -> tuple[str, Command] | None:
        return repository_label_command(added, kind, REPO_LABELS, DEFAULT_LABELS)

    assert pick(["bot-please"], "issue") == ("bot-please", Command("implement"))
    assert pick(["BOT-PLEASE"], "issue") == ("BOT-PLEASE", Command("implement"))
    assert pick(["needs-tests"], "pull_request") == ("needs-tests", Command("test"))
    assert pick(["needs-tests"], "issue") is None  # `test` works on pull requests only
    assert pick(["bug", "needs-tests", "bot-please"], "issue") == (
        "bot-please",
        Command("implement"),
    )
    assert pick(["deploy"], "issue") is None  # no such command
    assert pick(["Plan-It"], "issue") == ("Plan-It", Command("plan"))


def test_repository_labels_cannot_redefine_the_operators() -> None:
    def pick(added: list[str], kind: TargetKind) -> tuple[str, Command] | None:
        return repository_label_command(added, kind, REPO_LABELS, DEFAULT_LABELS)

    assert pick(["agentops"], "pull_request") is None  # not `review`, though the file says so
    assert pick(["AgentOps:Test"], "issue") is None  # not `implement`
    assert pick(["agentops", "bot-please"], "issue") == ("bot-please", Command("implement"))


# --- targets and help --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["implement", "plan"])
def test_issue_only_commands(name: CommandName) -> None:
    assert wrong_target_reason(name, "issue") is None
    reason = wrong_target_reason(name, "pull_request")
    assert reason == f"`/agentops {name}` works on issues, not on pull requests"


@pytest.mark.parametrize("name", ["test", "review", "fix"])
def test_pull_request_only_commands(name: CommandName) -> None:
    assert wrong_target_reason(name, "pull_request") is None
    reason = wrong_target_reason(name, "issue")
    assert reason == f"`/agentops {name}` works on pull requests, not on issues"


@pytest.mark.parametrize("name", ["status", "cancel", "retry", "help"])
def test_control_commands_work_anywhere(name: CommandName) -> None:
    assert wrong_target_reason(name, "issue") is None
    assert wrong_target_reason(name, "pull_request") is None


def test_help_lists_every_command() -> None:
    text = help_text()
    for name in COMMANDS:
        assert f"`/agentops {name}`" in text
    assert "I don't know" not in text


def test_help_for_an_unknown_word_is_bounded() -> None:
    text = help_text("x" * 500)
    assert "x" * 40 in text
    assert "x" * 41 not in text
