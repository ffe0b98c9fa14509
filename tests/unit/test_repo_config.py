"""`.agentops.yml`: defaults, validation and the messages a person reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import RepoConfigError, Settings, parse_repo_config, repo_config_labels


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
        ("test: [unclosed", "not valid YAML at line 1"),
        ("- a\n- b\n", "must be a mapping"),
        ("commands: [implement, deploy]\n", "unknown command 'deploy'"),
        ("limits:\n  max_turns: 0\n", "limits.max_turns"),
        ("tset: pytest\n", "tset"),
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
