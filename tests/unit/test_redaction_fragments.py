"""Pieces of configured secrets never survive `redact`: provider error bodies that echo
the head or tail of a key, truncated keys, encoded keys, masked keys."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from app.redaction import REDACTED, redact

FRAGMENT_MIN = 12

ANTHROPIC_KEY = (
    "sk-ant-api03-Xq7vR2mK9pLw4sT8nB1cD6fG3hJ5kZ0aY-uE_iO2rW4tQ8yP1sA7dF3gH6jK9lM2nB5vC8xZ1"
    "qW4eR7tY0uI3oP6aS9dF2gH5jK8lQ-AbCdEfAA"
)
OPENAI_KEY = (
    "sk-proj-N4mB7vC1xZ8qW5eR2tY9uI6oP3aS0dF7gH4jK1lM8nB5vC2xZ9qW6eR3tY0uI7oP4aS1dF8gH5jK2lM9"
    "nB6vC3xZ0qW7eR4tY1uI8oP5aS2dF9gH6jK3lMwxyz"
)
WEBHOOK_SECRET = "c0ffee5ecret-for-the-github-app-hook"
GITLAB_TOKEN = "glpat-Zx8Cv7Bn6Mm5Ll4Kk3Jj"
SECRETS = [ANTHROPIC_KEY, OPENAI_KEY, WEBHOOK_SECRET, GITLAB_TOKEN]


def leaks(text: str, secret: str) -> list[str]:
    """Every piece of `secret` of FRAGMENT_MIN characters that is still in `text`."""
    return [
        secret[i : i + FRAGMENT_MIN]
        for i in range(len(secret) - FRAGMENT_MIN + 1)
        if secret[i : i + FRAGMENT_MIN] in text
    ]


def test_openai_incorrect_key_body_with_masked_key() -> None:
    masked = OPENAI_KEY[:8] + "*" * 120 + OPENAI_KEY[-4:]
    body = json.dumps(
        {
            "error": {
                "message": f"Incorrect API key provided: {masked}. You can find your API key"
                " at https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
    )
    cleaned = redact(body, SECRETS)
    assert masked not in cleaned and OPENAI_KEY[-4:] + "." not in cleaned
    assert "Incorrect API key provided: [REDACTED]. You can find your API key" in cleaned


def test_anthropic_style_head_and_tail_echo() -> None:
    shown = f"{ANTHROPIC_KEY[:12]}…{ANTHROPIC_KEY[-4:]}"
    body = json.dumps(
        {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key {shown}"},
        }
    )
    for text in (body, json.dumps(json.loads(body), ensure_ascii=False)):
        cleaned = redact(text, SECRETS)
        assert ANTHROPIC_KEY[:12] not in cleaned and ANTHROPIC_KEY[-4:] not in cleaned
        assert 'invalid x-api-key [REDACTED]"' in cleaned


def test_masked_tail_alone_is_caught_when_it_is_a_configured_key() -> None:
    key = "0123456789abcdefMYTAIL"  # no known prefix: only the configured value tells
    cleaned = redact("key ****************YTAIL rejected; also ...AIL", [key])
    assert "YTAIL" not in cleaned and cleaned.startswith(f"key {REDACTED} rejected")
    assert "...AIL" in cleaned  # three visible characters are nobody's secret


def test_truncated_and_middle_pieces_of_a_key() -> None:
    for piece in (ANTHROPIC_KEY[:40], ANTHROPIC_KEY[30:60], ANTHROPIC_KEY[-20:]):
        text = f'{{"detail": "key {piece} is not valid for this organization"}}'
        cleaned = redact(text, SECRETS)
        assert not leaks(cleaned, ANTHROPIC_KEY), cleaned
        assert "is not valid for this organization" in cleaned


def test_pieces_of_a_webhook_secret_and_a_gitlab_token() -> None:
    text = f"signature mismatch for secret {WEBHOOK_SECRET[4:20]}; token {GITLAB_TOKEN[6:]} expired"
    cleaned = redact(text, SECRETS)
    assert not leaks(cleaned, WEBHOOK_SECRET) and not leaks(cleaned, GITLAB_TOKEN)
    assert cleaned.startswith("signature mismatch for secret ")


def test_base64_and_url_encoded_forms() -> None:
    for prefix in ("", "x", "x-access-token:", "user:"):
        basic = base64.b64encode(f"{prefix}{WEBHOOK_SECRET}".encode()).decode()
        cleaned = redact(f"sent Basic {basic} and got 401", SECRETS)
        secret_part = basic[(len(prefix) // 3 + 1) * 4 : -4]  # encodes the secret alone
        assert not leaks(cleaned, secret_part), (prefix, cleaned)
    encoded = base64.urlsafe_b64encode(OPENAI_KEY.encode()).decode()
    assert not leaks(redact(f"k={encoded}", SECRETS), encoded[4:-4])
    key = "p@ss/word+with&odd=chars?!"
    quoted = quote(key, safe="")
    cleaned = redact(f"https://example.invalid/?key={quoted}", [key])
    assert quoted not in cleaned and not leaks(cleaned, quoted)


def test_ordinary_text_and_short_secrets_are_left_alone() -> None:
    text = (
        "Traceback (most recent call last): the provider answered 401 Unauthorized...\n"
        "configuration and authentication_error are ordinary words ****"
    )
    assert redact(text, SECRETS) == text
    # a short secret is replaced whole only: its pieces would be ordinary words
    assert redact("a webhook and a hook", ["webhook-secret"]) == "a webhook and a hook"
    assert redact("x webhook-secret y", ["webhook-secret"]) == f"x {REDACTED} y"
    # pieces of a key that say nothing about it (a run of zeros) are ordinary text
    key = "sk-ant-sim-0000000000000000000000"
    sha = "0" * 40
    assert redact(f"old {sha} new", [key]) == f"old {sha} new"
    assert redact(f"k={key[:16]}", [key]) == f"k={REDACTED}"


def test_known_prefix_masked_keys_without_configuration() -> None:
    for masked in ("sk-proj-********wxyz", "sk-ant-…abcd", "ghp_...1a2b", "glpat-****xyz1"):
        assert redact(f"rejected {masked} today") == f"rejected {REDACTED} today", masked
