"""The `/agentops …` comment grammar and the label rules, as pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

CommandName = Literal[
    "implement", "plan", "test", "review", "fix", "status", "cancel", "retry", "help"
]
TargetKind = Literal["issue", "pull_request"]
ON_ISSUES: frozenset[TargetKind] = frozenset({"issue"})
ON_PULL_REQUESTS: frozenset[TargetKind] = frozenset({"pull_request"})
ANYWHERE: frozenset[TargetKind] = ON_ISSUES | ON_PULL_REQUESTS


@dataclass(frozen=True)
class CommandSpec:
    """Everything the service knows of a command; the rest is derived from `SPECS`."""

    name: CommandName
    help: str  # its line in `/agentops help`
    applies_to: frozenset[TargetKind]
    # "control": answered by the worker without code or a model (app/workflow/control.py);
    # otherwise the workflow on code that runs it (app/workflow/work.py)
    workflow: Literal["control", "issue_work", "pull_tests", "pull_fix", "review"]
    title: str = ""  # the check run's title while it works
    labels: tuple[str, ...] = ()  # the operator's default labels that start it


SPECS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "implement",
        "implement this issue and open a draft pull request",
        ON_ISSUES,
        "issue_work",
        "Implementing the issue",
        ("agentops", "agentops:implement"),
    ),
    CommandSpec(
        "plan",
        "analyse the issue and post a plan, without changing code",
        ON_ISSUES,
        "issue_work",
        "Planning",
        ("agentops:plan",),
    ),
    CommandSpec(
        "test",
        "add tests for the changes of this pull request",
        ON_PULL_REQUESTS,
        "pull_tests",
        "Writing tests",
        ("agentops:test",),
    ),
    CommandSpec(
        "review",
        "review the changes of this pull request",
        ON_PULL_REQUESTS,
        "review",
        "Reviewing",
        ("agentops:review",),
    ),
    CommandSpec(
        "fix",
        "`fix <what to change>`: apply the requested change to this pull request",
        ON_PULL_REQUESTS,
        "pull_fix",
        "Applying the requested change",
    ),
    CommandSpec("status", "list the runs here and their steps", ANYWHERE, "control"),
    CommandSpec("cancel", "stop the run in progress here", ANYWHERE, "control"),
    CommandSpec("retry", "run the last failed run here again", ANYWHERE, "control"),
    CommandSpec("help", "show this list", ANYWHERE, "control"),
)
SPEC: dict[str, CommandSpec] = {spec.name: spec for spec in SPECS}
COMMANDS: tuple[CommandName, ...] = tuple(spec.name for spec in SPECS)
# Commands answered by the worker without touching code or a model.
CONTROL: frozenset[str] = frozenset(s.name for s in SPECS if s.workflow == "control")
DEFAULT_LABELS: dict[str, str] = {label: s.name for s in SPECS for label in s.labels}

_COMMAND_LINE = re.compile(r"^[ \t]*/agentops(?![^ \t])(?:[ \t]+(\S+))?[ \t]*(.*)$", re.IGNORECASE)
_MENTION = re.compile(r"/agentops", re.IGNORECASE)  # what every command line holds
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_QUOTE = re.compile(r"^[ \t]*>")


@dataclass(frozen=True)
class Command:
    name: CommandName
    args: str = ""
    unknown: str | None = None  # the word typed, when it was no command (answered with help)


def parse_comment(body: str) -> Command | None:
    """The first `/agentops` command of a comment, or None when it has none.

    A command line may start with spaces, is case-insensitive, and never counts inside a
    fenced code block or a `>` quote. `/agentops` alone, or with an unknown word, is help.
    """
    if _MENTION.search(body) is None:  # most comments: no line to look at
        return None
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fence: str | None = None
    for index, line in enumerate(lines):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        if _QUOTE.match(line):
            continue
        match = _COMMAND_LINE.match(line)
        if not match:
            continue
        word = (match.group(1) or "help").lower()
        rest = match.group(2).strip()
        if word not in COMMANDS:
            return Command("help", unknown=match.group(1))
        name: CommandName = word
        if name == "fix" and not rest:
            rest = _following_text(lines[index + 1 :])
        return Command(name, rest)
    return None


def _following_text(lines: list[str]) -> str:
    kept = [line for line in lines if not _QUOTE.match(line)]
    return "\n".join(kept).strip()


def command_for_label(
    label: str, target_kind: TargetKind, labels: Mapping[str, str]
) -> Command | None:
    """The command a newly added label asks for on this kind of target, if any."""
    wanted = labels.get(label) or labels.get(label.lower())
    if wanted not in COMMANDS:
        return None
    name: CommandName = wanted
    if wrong_target_reason(name, target_kind) is not None:
        return None
    return Command(name)


def operator_owns_label(label: str, operator_labels: Mapping[str, str]) -> bool:
    """True when the operator's label map names `label` (in any case).

    Such a label means what the operator says, or nothing: a repository's `labels:` can
    neither redefine it nor give it a meaning where the operator's command does not fit.
    """
    folded = label.casefold()
    return any(name.casefold() == folded for name in operator_labels)


def repository_label_command(
    added: Sequence[str],
    target_kind: TargetKind,
    repo_labels: Mapping[str, str],
    operator_labels: Mapping[str, str],
) -> tuple[str, Command] | None:
    """The first added label that the repository's `labels:` maps to a command fitting
    this kind of target, with that command; labels the operator owns are skipped."""
    for label in added:
        if operator_owns_label(label, operator_labels):
            continue
        command = command_for_label(label, target_kind, repo_labels)
        if command is not None:
            return label, command
    return None


def wrong_target_reason(name: CommandName, target_kind: TargetKind) -> str | None:
    """Why `name` cannot run on this kind of target, or None when it can."""
    applies_to = SPEC[name].applies_to
    if target_kind in applies_to:
        return None
    if applies_to == ON_ISSUES:
        return f"`/agentops {name}` works on issues, not on pull requests"
    return f"`/agentops {name}` works on pull requests, not on issues"


def help_text(unknown: str | None = None) -> str:
    lines = []
    if unknown:
        lines.append(f"I don't know the command `{unknown[:40]}`. These are the ones I know:")
    else:
        lines.append("AgentOps commands (write them at the start of a comment line):")
    lines.append("")
    for spec in SPECS:
        lines.append(f"- `/agentops {spec.name}`: {spec.help}")
    lines.append("")
    lines.append(
        "Labels work too: `agentops` on an issue implements it, "
        "`agentops:test` on a pull request adds tests."
    )
    return "\n".join(lines)
