"""Per-project GitLab webhook tokens: derivation from the operator's secret and the check
of a delivery's token against the project its payload names (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import AnyStr

import pytest

from app.webhooks import (
    SignatureError,
    gitlab_groups_of,
    gitlab_webhook_secret,
    verify_gitlab_project_token,
    verify_gitlab_token_shape,
)

OPERATOR = "operator-secret-0123456789"


def test_the_token_is_an_hmac_of_the_scope_and_path_in_url_safe_form() -> None:
    digest = hmac.new(
        OPERATOR.encode(), b"gitlab-webhook:project:team/app", hashlib.sha256
    ).digest()
    expected = "glwh_" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert gitlab_webhook_secret(OPERATOR, "team/app") == expected
    assert all(c.isalnum() or c in "-_" for c in expected)


def test_tokens_differ_per_project_group_and_operator_secret() -> None:
    tokens = {
        gitlab_webhook_secret(OPERATOR, "team/app"),
        gitlab_webhook_secret(OPERATOR, "team/other"),
        gitlab_webhook_secret(OPERATOR, "team/app", group=True),
        gitlab_webhook_secret(OPERATOR + "x", "team/app"),
    }
    assert len(tokens) == 4
    assert OPERATOR not in "".join(tokens)


def test_paths_are_case_insensitive_and_trimmed_like_gitlab_routes() -> None:
    assert gitlab_webhook_secret(OPERATOR, "Team/App") == gitlab_webhook_secret(
        OPERATOR, " /team/app/ "
    )


def test_groups_of_a_project_nearest_first() -> None:
    assert gitlab_groups_of("a/b/c/project") == ["a/b/c", "a/b", "a"]
    assert gitlab_groups_of("alice/project") == ["alice"]


def test_the_projects_own_token_is_accepted() -> None:
    token = gitlab_webhook_secret(OPERATOR, "team/app")
    assert verify_gitlab_project_token(OPERATOR, "team/app", token) == "project team/app"


@pytest.mark.parametrize("group", ["org", "org/sub"])
def test_a_group_token_is_accepted_for_projects_under_it(group: str) -> None:
    token = gitlab_webhook_secret(OPERATOR, group, group=True)
    assert verify_gitlab_project_token(OPERATOR, "org/sub/app", token) == f"group {group}"


def test_another_projects_token_is_refused_without_revealing_the_right_one() -> None:
    attacker = gitlab_webhook_secret(OPERATOR, "mallory/own")
    with pytest.raises(SignatureError) as caught:
        verify_gitlab_project_token(OPERATOR, "victim/app", attacker)
    message = str(caught.value)
    assert "does not match the secret of project victim/app" in message
    assert "agentops gitlab-secret" in message
    assert gitlab_webhook_secret(OPERATOR, "victim/app") not in message
    assert OPERATOR not in message


@pytest.mark.parametrize(
    ("token_path", "group", "project"),
    [
        ("org/sub", True, "org/other/app"),  # a sibling group's hook
        ("org/sub/app", False, "org/sub/app2"),  # a project whose path starts the same
        ("org/sub", False, "org/sub/app"),  # a project token used as a group token
        ("org/sub/app", True, "org/sub/app"),  # a group token of the project's own path
    ],
)
def test_tokens_of_other_scopes_are_refused(token_path: str, group: bool, project: str) -> None:
    token = gitlab_webhook_secret(OPERATOR, token_path, group=group)
    with pytest.raises(SignatureError):
        verify_gitlab_project_token(OPERATOR, project, token)


def test_the_shared_secret_is_refused_unless_the_operator_opts_in() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify_gitlab_project_token(OPERATOR, "team/app", OPERATOR)
    assert (
        verify_gitlab_project_token(OPERATOR, "team/app", OPERATOR, accept_shared_secret=True)
        == "shared secret"
    )


@pytest.mark.parametrize("path", [None, "", " / "])
def test_a_payload_without_a_project_cannot_be_checked(path: str | None) -> None:
    token = gitlab_webhook_secret(OPERATOR, "team/app")
    with pytest.raises(SignatureError, match="names no project"):
        verify_gitlab_project_token(OPERATOR, path, token)


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_token_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing X-Gitlab-Token"):
        verify_gitlab_project_token(OPERATOR, "team/app", header)


def test_every_candidate_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: AnyStr, b: AnyStr) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("app.webhooks.hmac.compare_digest", spy)
    token = gitlab_webhook_secret(OPERATOR, "a/b/app")
    verify_gitlab_project_token(OPERATOR, "a/b/app", token)
    assert len(calls) == 3  # the project, a/b and a: the match does not stop the loop


def test_a_path_with_a_lone_surrogate_is_refused_not_an_error() -> None:
    path = "team/\ud800app"  # JSON may carry it: "\\ud800"
    token = gitlab_webhook_secret(OPERATOR, path)
    assert verify_gitlab_project_token(OPERATOR, path, token).startswith("project ")
    with pytest.raises(SignatureError):
        verify_gitlab_project_token(OPERATOR, path, gitlab_webhook_secret(OPERATOR, "team/app"))


def test_the_shape_of_a_token_is_checked_before_the_body_is_read() -> None:
    verify_gitlab_token_shape(gitlab_webhook_secret(OPERATOR, "team/app"))
    for header in (
        OPERATOR,
        "glwh_short",
        gitlab_webhook_secret(OPERATOR, "x") + "=",
        "glwh_" + "é" * 43,
    ):
        with pytest.raises(SignatureError, match="no project or group token"):
            verify_gitlab_token_shape(header)
    verify_gitlab_token_shape(OPERATOR, accept_shared_secret=True)  # checked later, in full
    with pytest.raises(SignatureError, match="missing X-Gitlab-Token"):
        verify_gitlab_token_shape(None)
