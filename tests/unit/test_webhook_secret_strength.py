"""Start-up's check of webhook secrets (pure: settings in, reason out)."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings, weak_webhook_secret


@pytest.mark.parametrize(
    "values",
    [
        {},  # no forge at all
        {"github_webhook_secret": "0123456789abcdef"},  # exactly 16
        {"gitlab_webhook_secret": "  0123456789abcdef  "},
        {"gitlab_signing_token": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    ],
)
def test_secrets_of_16_characters_or_more_serve(values: dict[str, Any]) -> None:
    assert weak_webhook_secret(Settings(**values)) is None


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"github_webhook_secret": "0123456789abcde"}, "AGENTOPS_GITHUB_WEBHOOK_SECRET"),
        ({"gitlab_webhook_secret": " " * 40}, "AGENTOPS_GITLAB_WEBHOOK_SECRET"),
        ({"gitlab_webhook_secret": "\t\n"}, "AGENTOPS_GITLAB_WEBHOOK_SECRET"),
        ({"gitlab_signing_token": "whsec_x"}, "AGENTOPS_GITLAB_SIGNING_TOKEN"),
    ],
)
def test_short_or_blank_secrets_are_named(values: dict[str, Any], named: str) -> None:
    reason = weak_webhook_secret(Settings(**values))
    assert reason is not None and reason.startswith(named)
    secret = next(iter(values.values())).strip()
    assert not secret or secret not in reason  # never echoed
