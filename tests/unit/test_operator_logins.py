"""`AGENTOPS_OPERATOR_LOGINS` parsed (`FORGE:LOGIN[#ID]`), a malformed entry refused at
start with a clear message, and who is an operator: the login and the account id."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_settings
from app.mcp.tokens import Principal, principal_of
from app.operators import is_operator, not_the_operator, parse_operator_logins

KINDS = ("github", "gitlab")


def test_entries_with_and_without_an_id() -> None:
    parsed = parse_operator_logins(" github:Rita#583231, gitlab:root ,,github:octo-cat ", KINDS)
    assert parsed == {
        ("github", "rita"): "583231",
        ("gitlab", "root"): None,
        ("github", "octo-cat"): None,
    }
    assert parse_operator_logins("", KINDS) == {}
    assert parse_operator_logins("github:rita#007,github:RITA#7", KINDS) == {
        ("github", "rita"): "7"
    }
    assert parse_operator_logins("gitlab:first.last_2", KINDS) == {("gitlab", "first.last_2"): None}


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("rita", "is not FORGE:LOGIN or FORGE:LOGIN#ID (FORGE one of github, gitlab)"),
        ("bitbucket:rita", "FORGE one of github, gitlab"),
        ("github:", "is not FORGE:LOGIN"),
        ("github:#583231", "is not FORGE:LOGIN"),
        ("github:rita#", "digits only (e.g. github:rita#583231)"),
        ("github:rita#58a", "digits only"),
        ("github:rita#-5", "digits only"),
        ("github:rita#1#2", "digits only"),
        ("github:rita #1 2", "digits only"),
        ("github:@rita", "is not a login"),
        ("github:ri ta", "is not a login"),
        ("github:rita=token", "is not a login"),
        ("github:rita#1,github:Rita#2", "github:rita is listed twice with different ids"),
        ("github:rita,github:rita#2", "listed twice"),
    ],
)
def test_a_malformed_entry_is_named(raw: str, said: str) -> None:
    with pytest.raises(ValueError, match="AGENTOPS_OPERATOR_LOGINS") as refused:
        parse_operator_logins(raw, KINDS)
    assert said in str(refused.value)


def test_a_malformed_entry_stops_the_service_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTOPS_OPERATOR_LOGINS", "github:rita#58x")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "AGENTOPS_OPERATOR_LOGINS" in message and "'github:rita#58x'" in message
    assert "digits only" in message and "\n" not in message.strip()


def test_the_settings_give_the_entries_and_an_mcp_token_names_a_pinned_operator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTOPS_OPERATOR_LOGINS", "github:Rita#583231,gitlab:root")
    monkeypatch.setenv("AGENTOPS_MCP_TOKENS", "github:rita=" + "r" * 32)
    settings = load_settings()
    assert settings.operator_entries == {("github", "rita"): "583231", ("gitlab", "root"): None}
    assert settings.operators == {("github", "rita"), ("gitlab", "root")}
    assert principal_of("Bearer " + "r" * 32, settings) == Principal("github", "rita")


def test_an_operator_is_the_login_and_the_account() -> None:
    entries = {("github", "rita"): None, ("github", "pinned"): "9", ("gitlab", "rita"): None}
    # pinned at the first sign-in: that account only
    assert is_operator(entries, "github", "Rita", "5", "5")
    assert not is_operator(entries, "github", "rita", "6", "5")
    assert not is_operator(entries, "github", "rita", "5", None)  # not pinned yet
    # pinned in the setting: that account, whatever was recorded
    assert is_operator(entries, "github", "pinned", "9", "5")
    assert is_operator(entries, "github", "pinned", "9", None)
    assert not is_operator(entries, "github", "pinned", "5", "5")
    # another login, or the same login on the other forge
    assert not is_operator(entries, "github", "bob", "5", "5")
    assert not is_operator(entries, "gitlab", "pinned", "9", "9")


def test_the_log_line_says_what_happened_and_what_to_set() -> None:
    said = not_the_operator("github", "Rita", "777", "583231", pinned_in_setting=False)
    assert "account id 777" in said and "583231" in said and "first signed in" in said
    assert "not an operator" in said and "set github:rita#777 in AGENTOPS_OPERATOR_LOGINS" in said
    named = not_the_operator("gitlab", "root", "8", "1", pinned_in_setting=True)
    assert "AGENTOPS_OPERATOR_LOGINS pins gitlab:root to the account id 1" in named
