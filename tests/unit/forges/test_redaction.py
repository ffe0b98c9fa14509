"""Secrets never survive `redact`: the new long `ghs_` tokens included."""

from __future__ import annotations

import base64
import logging
import secrets

from app.redaction import REDACTED, RedactingFilter, redact


def long_installation_token() -> str:
    """The newer GitHub installation token shape: ~520 characters with dots."""
    tail = base64.urlsafe_b64encode(secrets.token_bytes(360)).decode().rstrip("=")
    return f"ghs_{secrets.token_hex(18)}.{tail[:240]}.{tail[240:]}"


def test_long_dotted_ghs_token_is_redacted_whole() -> None:
    token = long_installation_token()
    assert 480 <= len(token) <= 560 and token.count(".") == 2
    for text in (
        f"token {token}",
        f"x-access-token:{token}@github.com",
        f"{token}.",
        f'{{"token": "{token}", "expires_at": "2030-01-01T00:00:00Z"}}',
    ):
        cleaned = redact(text)
        assert token not in cleaned and REDACTED in cleaned
        for piece in token.split("."):
            assert piece not in cleaned


def test_classic_tokens_and_headers() -> None:
    token = "ghs_" + "a" * 36
    assert redact(f"https://x-access-token:{token}@github.com/o/r.git") == (
        f"https://{REDACTED}@github.com/o/r.git"
    )
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert basic not in redact(f"Authorization: Basic {basic}")
    assert redact("Authorization: Bearer abc.def") == f"Authorization: {REDACTED}"


def test_literal_secrets_and_log_filter() -> None:
    value = "s3cr3t-value-from-somewhere"
    assert redact(f"x {value} y", [value]) == f"x {REDACTED} y"
    token = long_installation_token()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "header %s", (token,), None)
    assert RedactingFilter().filter(record)
    assert token not in record.getMessage()
