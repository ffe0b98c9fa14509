"""`.agentops.yml`: defaults, validation and the messages a person reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.repo_config import RepoConfigError, parse_repo_config, repo_config_labels


def test_absent_or_empty_file_gives_defaults() -> None:
    for text in (None, "", "  \n", "# only a comment\n"):
        config = parse_repo_config(text)
        assert "implement" in config.commands and config.test is None
        assert config.allow_workflow_edits is False


def test_a_full_file_is_read() -> None:
    config = parse_repo_config(
        "test: pytest -q tests/unit\nsetup: [pip install -e .]\n"
        "forbidden_paths: ['migrations/**', 'secrets/*']\n"
        "models:\n  coder: anthropic:claude-sonnet-4-6\nbudgets:\n  run_usd: 1.5\n"
        "limits:\n  max_turns: 12\nlabels:\n  bot-please: implement\n"
    )
    assert config.test == "pytest -q tests/unit" and config.setup == ["pip install -e ."]
    assert config.forbidden_paths == ["migrations/**", "secrets/*"]
    assert config.budgets == {"run_usd": 1.5} and config.limits.max_turns == 12
    assert config.labels == {"bot-please": "implement"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("test: [unclosed", "not valid YAML at line 1, column 16: expected ',' or ']'"),
        ("- a\n- b\n", "must be a mapping"),
        ("commands: [implement, deploy]\n", "`commands` (line 1, column 1): an unknown command"),
        ("limits:\n  max_turns: 0\n", "`limits.max_turns` (line 2, column 3)"),
        ("test: x\ntset: pytest\n", "(line 2, column 1): an unknown setting; known: commands"),
    ],
)
def test_bad_files_are_explained(text: str, message: str) -> None:
    with pytest.raises(RepoConfigError) as caught:
        parse_repo_config(text)
    assert message in str(caught.value)
    assert str(caught.value).startswith(".agentops.yml")


def test_endpoint_keys_are_redacted_too() -> None:
    settings = Settings(
        llm_endpoints={"vllm": {"base_url": "http://x/v1", "api_key": "gateway-key-123456"}}
    )
    assert "gateway-key-123456" in settings.secret_values()


def test_repository_tests_run_with_the_configured_python(tmp_path: Path) -> None:
    import sys
    import venv

    assert Settings().sandbox_python_env == Path(sys.prefix)
    venv.create(tmp_path / "py", with_pip=False, symlinks=True)
    assert Settings(sandbox_python=tmp_path / "py").sandbox_python_env == tmp_path / "py"
    with pytest.raises(ValueError, match="has no bin/python"):
        Settings(sandbox_python=tmp_path / "missing")


def test_labels_are_read_even_when_another_key_is_wrong() -> None:
    assert repo_config_labels(None) == {}
    assert repo_config_labels("labels:\n  bot-please: implement\n") == {"bot-please": "implement"}
    # the run the label starts reports the unknown key; the label still means something
    assert repo_config_labels("labels: {bot-please: implement}\ntypo: 1\n") == {
        "bot-please": "implement"
    }
    assert repo_config_labels("labels: {a: implement, b: deploy, 3: plan}\ntypo: 1\n") == {
        "a": "implement",
        "b": "deploy",
    }


@pytest.mark.parametrize(
    "text", ["labels: [unclosed", "- a list\n", "labels: implement\n", "labels:\n  - bot-please\n"]
)
def test_labels_that_cannot_be_read_mean_nothing(text: str) -> None:
    assert repo_config_labels(text) == {}


@pytest.mark.parametrize(
    "text",
    [
        "CANARY-7f3a: 1\n",
        "limits: {CANARY-7f3a: 1}\n",
        "labels:\n  go: CANARY-7f3a\n",
        "commands: [CANARY-7f3a]\n",
        "test: [CANARY-7f3a]\n",
        "limits: {max_turns: CANARY-7f3a}\n",
        "a: *CANARY-7f3a\n",
        "a: !!python/object:CANARY-7f3a x\n",
        "CANARY-7f3a: [\n",
        "x: 1\nCANARY-7f3a\n",
    ],
)
def test_messages_never_quote_the_file(text: str) -> None:
    """They reach public check runs: where and what kind of problem, never the text (the
    file may have been a link to a host file before the reader refused links)."""
    with pytest.raises(RepoConfigError) as caught:
        parse_repo_config(text)
    assert "CANARY" not in str(caught.value)
    assert "line" in str(caught.value)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('test: "PYTHONPATH=src"', "sets variables but runs nothing"),
        ("test: 'pytest -k \"unclosed'", "No closing quotation"),
    ],
)
def test_a_test_command_that_cannot_start_is_refused_when_the_file_is_read(
    line: str, reason: str
) -> None:
    with pytest.raises(RepoConfigError, match=reason) as refused:
        parse_repo_config(line)
    assert "`test`" in str(refused.value)


def test_a_test_command_with_variables_is_kept_as_written() -> None:
    assert parse_repo_config("test: PYTHONPATH=src pytest -q").test == "PYTHONPATH=src pytest -q"
