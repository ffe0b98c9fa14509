"""A repository's own `.agentops.yml`: what it may say about how AgentOps works on it, read
safely and refused with a message that says where and why (never echoing its contents)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app import repo_files
from app.agent_mcp.servers import SERVER_NAME
from app.commands import COMMANDS
from app.sandbox.test_commands import command_from_config, parse_select_template

REPO_CONFIG_FILE = ".agentops.yml"
MAX_REPO_CONFIG_BYTES = 256 * 1024


class RepoLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_turns: int = Field(default=30, ge=1, le=200)
    max_tokens: int = Field(default=400_000, ge=1_000)
    max_test_runs: int = Field(default=6, ge=1, le=50)
    test_timeout_seconds: int = Field(default=600, ge=10, le=3600)
    # Before delivery the whole suite runs on the original code and on the change when it
    # ends within this on the original code (0: only the touched test files are compared).
    # Left unset, a repository with more than 300 test files leaves its suite out.
    suite_check_seconds: int | None = Field(default=None, ge=0, le=3600)


CAP_SETTINGS = {
    "test_timeout_seconds": "AGENTOPS_MAX_TEST_TIMEOUT_SECONDS",
    "max_turns": "AGENTOPS_MAX_TURNS",
    "max_tokens": "AGENTOPS_MAX_TOKENS",
    "max_test_runs": "AGENTOPS_MAX_TEST_RUNS",
    "suite_check_seconds": "AGENTOPS_MAX_SUITE_CHECK_SECONDS",
}


def cap_repo_limits(limits: RepoLimits, caps: dict[str, int]) -> tuple[RepoLimits, list[str]]:
    """`limits` with every value above the operator's cap lowered to it, and one line per
    value lowered, for the run's check run and log (pure)."""
    lowered: dict[str, int] = {}
    notices: list[str] = []
    for name, cap in caps.items():
        asked = getattr(limits, name)
        if asked is not None and asked > cap:
            lowered[name] = cap
            notices.append(
                f"`limits.{name}: {asked}` in {REPO_CONFIG_FILE} is above what this "
                f"installation allows; {cap} is used"
            )
    return limits.model_copy(update=lowered), notices


class RepoConfig(BaseModel):
    """What a repository may say about how AgentOps works on it.

    Read from the default branch; from a pull request's head only when its author has
    write access. `models` and `budgets` are validated by `app/llm` (`RepoLLMConfig`).
    """

    model_config = ConfigDict(extra="forbid")
    commands: list[str] = Field(default_factory=lambda: list[str](COMMANDS))
    labels: dict[str, str] = Field(default_factory=dict)
    models: dict[str, list[str] | str] = Field(default_factory=dict)
    budgets: dict[str, float] = Field(default_factory=dict)
    test: str | None = None  # the test command; detected when absent
    test_select: str | None = None  # how `test` runs single tests: a command with {tests}
    setup: list[str] = Field(default_factory=list)  # run in the sandbox before the tests
    forbidden_paths: list[str] = Field(default_factory=list)  # globs the bot may not touch
    allow_workflow_edits: bool = False  # CI definitions (edits/policy.py) off limits unless true
    limits: RepoLimits = Field(default_factory=RepoLimits)
    # which of the operator's MCP servers lend their tools (app/agent_mcp); unset: all
    mcp_servers: list[str] | None = Field(default=None, max_length=20)

    # The unknown name itself is not quoted: messages never echo a file's contents.
    @field_validator("commands")
    @classmethod
    def _known_commands(cls, commands: list[str]) -> list[str]:
        if any(c not in COMMANDS for c in commands):
            raise ValueError(f"an unknown command; known: {', '.join(COMMANDS)}")
        return commands

    @field_validator("test")
    @classmethod
    def _readable_test_command(cls, test: str | None) -> str | None:
        """A command the sandbox could not even start is refused when the file is read
        (an unclosed quote, only `NAME=value` words), not found out as red and green both
        failing."""
        if test is not None and test.strip():
            command_from_config(test)  # its ValueError says what is wrong
        return test

    @field_validator("test_select")
    @classmethod
    def _readable_select(cls, select: str | None) -> str | None:
        if select is not None:
            parse_select_template(select)  # its ValueError says what is wrong
        return select

    @model_validator(mode="after")
    def _select_needs_a_command(self) -> RepoConfig:
        if self.test_select and not (self.test and self.test.strip()):
            raise ValueError("test_select needs the test command it selects from: set `test:`")
        return self

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and any(not SERVER_NAME.fullmatch(n) for n in names):
            raise ValueError("a server name that is not lower-case letters, digits and `-`")
        return names

    @field_validator("labels")
    @classmethod
    def _known_label_commands(cls, labels: dict[str, str]) -> dict[str, str]:
        if any(c not in COMMANDS for c in labels.values()):
            raise ValueError(f"an unknown command; known: {', '.join(COMMANDS)}")
        return labels


class RepoConfigError(Exception):
    """`.agentops.yml` is not usable; the message says where and why, for the person."""


def parse_repo_config(text: str | None) -> RepoConfig:
    """The repository's settings; defaults when the file is absent or empty."""
    if not text or not text.strip():
        return RepoConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RepoConfigError(_yaml_error_text(exc)) from None
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise RepoConfigError(f"{REPO_CONFIG_FILE} must be a mapping of settings")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise RepoConfigError(_validation_error_text(exc, text)) from None


def repo_config_labels(text: str | None) -> dict[str, str]:
    """`labels:` of an `.agentops.yml`, honoured even when another key is wrong: the run
    such a label starts then reports that error where the person sees it. Nothing when
    the file is not YAML or `labels:` is not a mapping."""
    try:
        return parse_repo_config(text).labels
    except RepoConfigError:
        pass
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}


# The messages below reach public check runs and comments: they say where (line, column,
# the name of a known setting) and what kind of problem, never a byte of the file.
_KNOWN_SETTINGS = frozenset(RepoConfig.model_fields) | frozenset(RepoLimits.model_fields)
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_YAML_TOKEN = re.compile(r"[^\w\s]{1,3}|<[a-z ]+>")


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None)
    kind = f": {_QUOTED.sub(_token_or_ellipsis, problem)}" if isinstance(problem, str) else ""
    return f"{REPO_CONFIG_FILE} is not valid YAML{where}{kind}"


def _token_or_ellipsis(quoted: re.Match[str]) -> str:
    """A quoted piece of a YAML problem: kept when it is a syntax token (`','`,
    `'<stream end>'`), else `…` (an alias, a tag, a character of the file)."""
    return quoted[0] if _YAML_TOKEN.fullmatch(quoted[0][1:-1]) else "…"


def _validation_error_text(exc: ValidationError, text: str) -> str:
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    named: list[str] = []
    for part in loc:
        if not (isinstance(part, str) and part in _KNOWN_SETTINGS):
            break
        named.append(part)
    if first["type"] == "extra_forbidden":
        known = RepoLimits.model_fields if named == ["limits"] else RepoConfig.model_fields
        message = f"an unknown setting; known: {', '.join(known)}"
        named = named[:-1] if len(named) == len(loc) else named
    else:
        message = first["msg"].removeprefix("Value error, ")
    where = _position(text, loc)
    setting = f", `{'.'.join(named)}`" if named else ""
    return f"{REPO_CONFIG_FILE}{setting}{where}: {message}"


def _position(text: str, loc: tuple[int | str, ...]) -> str:
    """` (line L, column C)` of the key (or item) at loc in the YAML text; "" if unknown."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    mark = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((kv for kv in node.value if str(kv[0].value) == str(part)), None)
            if pair is None:
                break
            mark, node = pair[0].start_mark, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def read_repo_config(root: Path) -> str | None:
    """The text of a checkout's `.agentops.yml` (None when there is none), read by the safe
    reader: a link, a special file or an oversized file is a RepoConfigError."""
    try:
        return repo_files.read_text(root, REPO_CONFIG_FILE, max_bytes=MAX_REPO_CONFIG_BYTES)
    except repo_files.RepositoryFileRefused as refused:
        raise repo_config_refused(refused) from None


def repo_config_refused(refused: Exception) -> RepoConfigError:
    """The person's message for an `.agentops.yml` that is not a regular file."""
    return RepoConfigError(
        f"{refused} AgentOps reads {REPO_CONFIG_FILE} only from a regular file "
        f"of at most {MAX_REPO_CONFIG_BYTES} bytes"
    )
