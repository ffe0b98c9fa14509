"""Pure parts of app/git_env.py and app/git.py: git's environment, secrets, commit messages."""

from __future__ import annotations

import base64
import os

import pytest

from app.forges.base import GitRemote
from app.git import GitError, Person, check_remote_url, commit_message
from app.git_env import git_env, header_line, header_secrets

TOKEN = "ghs_" + "t" * 40 + ".part2"
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
REMOTE = GitRemote(
    url="https://github.com/acme/app.git", auth_header=f"Authorization: Basic {BASIC}"
)


def test_header_line_forms() -> None:
    assert header_line(f"Authorization: Basic {BASIC}") == f"Authorization: Basic {BASIC}"
    assert header_line(f"Bearer {TOKEN}") == f"Authorization: Bearer {TOKEN}"
    with pytest.raises(ValueError):
        header_line("Authorization: x\r\nX-Evil: 1")


def test_header_secrets_cover_every_form() -> None:
    found = header_secrets(REMOTE.auth_header)
    assert TOKEN in found and BASIC in found and f"Basic {BASIC}" in found


def test_env_carries_header_scoped_to_the_remote() -> None:
    env = git_env(
        REMOTE,
        base={
            "PATH": "/usr/bin",
            "HOME": "/root",
            "AWS_SECRET": "no",
            "AGENTOPS_GITHUB_PRIVATE_KEY": "no",
        },
    )
    assert "AWS_SECRET" not in env and "AGENTOPS_GITHUB_PRIVATE_KEY" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull
    pairs = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert pairs["credential.helper"] == ""
    assert pairs["http.https://github.com/acme/app.git.extraHeader"] == REMOTE.auth_header
    assert not any(TOKEN in key or BASIC in key for key in env)


def test_env_without_remote_has_no_header() -> None:
    env = git_env(None, base={})
    assert not any("extraHeader" in v for v in env.values())


def test_commit_message_trailers() -> None:
    alice = Person("Alice", "alice@example.com")
    assert commit_message("Fix it", [alice]) == (
        "Fix it\n\nCo-authored-by: Alice <alice@example.com>\n"
    )
    assert commit_message("Fix it\n\nRefs: #1", [alice, alice]) == (
        "Fix it\n\nRefs: #1\nCo-authored-by: Alice <alice@example.com>\n"
    )
    already = "Fix\n\nCo-authored-by: Alice <alice@example.com>"
    assert commit_message(already, [alice]) == already + "\n"
    assert commit_message("Plain", []) == "Plain\n"


def test_remote_urls_must_be_clean_http() -> None:
    check_remote_url("https://github.com/acme/app.git")
    for bad in (
        "https://x-access-token:abc@github.com/acme/app.git",
        "ext::sh -c id",
        "file:///etc",
        "--upload-pack=evil",
    ):
        with pytest.raises(GitError):
            check_remote_url(bad)
