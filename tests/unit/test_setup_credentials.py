"""The manifest flow's pure parts: what is kept of GitHub's answer, and the file form."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from app.setup_credentials import (
    CredentialsError,
    credentials_from_conversion,
    write_credentials_file,
)
from app.setup_state import token_digest, visitor_cookie_header, well_formed_token

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc+/=\nQUJD\n-----END RSA PRIVATE KEY-----\n"
ANSWER: dict[str, Any] = {"id": 42, "slug": "agentops-x", "webhook_secret": "a" * 40, "pem": PEM}


def test_the_settings_are_one_line_each_with_the_key_escaped() -> None:
    lines = credentials_from_conversion(ANSWER).env_lines()
    assert lines[:3] == [
        "AGENTOPS_GITHUB_APP_ID=42",
        "AGENTOPS_GITHUB_APP_SLUG=agentops-x",
        f'AGENTOPS_GITHUB_WEBHOOK_SECRET="{"a" * 40}"',
    ]
    assert lines[3] == 'AGENTOPS_GITHUB_PRIVATE_KEY="' + PEM.strip().replace("\n", "\\n") + '"'


def test_the_apps_oauth_client_is_handed_over_for_sign_in() -> None:
    answer = {**ANSWER, "client_id": "Iv1.0123abcd", "client_secret": "f" * 40}
    lines = credentials_from_conversion(answer).env_lines()
    assert lines[3:5] == [
        "AGENTOPS_GITHUB_CLIENT_ID=Iv1.0123abcd",
        f'AGENTOPS_GITHUB_CLIENT_SECRET="{"f" * 40}"',
    ]
    assert lines[-1].startswith("AGENTOPS_GITHUB_PRIVATE_KEY=")
    unsafe = {**answer, "client_secret": "$(id)"}
    assert not any("CLIENT" in line for line in credentials_from_conversion(unsafe).env_lines())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"id": "42"}, "App id"),
        ({"slug": "a b"}, "slug"),
        ({"webhook_secret": 'x"; rm -rf /; "'}, "webhook secret"),
        ({"webhook_secret": "$(id)"}, "webhook secret"),
        ({"pem": "not a key"}, "private key"),
    ],
)
def test_an_answer_that_could_not_be_loaded_safely_is_refused(
    change: dict[str, Any], named: str
) -> None:
    with pytest.raises(CredentialsError, match=named):
        credentials_from_conversion({**ANSWER, **change})


def test_the_file_is_the_owners_and_never_written_through(tmp_path: Path) -> None:
    target = tmp_path / "agentops.env"
    write_credentials_file(target, credentials_from_conversion(ANSWER))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_credentials_file(target, credentials_from_conversion(ANSWER))
    link = tmp_path / "link.env"
    link.symlink_to(tmp_path / "elsewhere.env")
    with pytest.raises(FileExistsError):
        write_credentials_file(link, credentials_from_conversion(ANSWER))
    assert not (tmp_path / "elsewhere.env").exists()


def test_tokens_and_the_cookie() -> None:
    assert not well_formed_token(None) and not well_formed_token("short")
    assert not well_formed_token("a" * 40 + "<")
    assert token_digest("a") != token_digest("b") and len(token_digest("a")) == 32
    assert visitor_cookie_header("t", "https://x", 60).endswith("HttpOnly; SameSite=Lax; Secure")
    assert "Secure" not in visitor_cookie_header("t", "http://x", 60)
