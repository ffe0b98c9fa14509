"""Webhook authenticity: GitHub HMAC signatures, GitLab tokens and Standard Webhooks.

Pure functions over bytes and headers; nothing here does I/O. Every comparison is
constant-time and no error message contains the expected value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request is not proven to come from the forge; the text is safe to return."""


def github_signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_github_signature(secret: bytes, body: bytes, header: str | None) -> None:
    """Check `X-Hub-Signature-256`. SHA-1 signatures (`X-Hub-Signature`) are not accepted."""
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    algorithm, _, digest = header.strip().partition("=")
    if algorithm != "sha256":
        raise SignatureError("X-Hub-Signature-256 must be a sha256= signature")
    if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise SignatureError("malformed X-Hub-Signature-256 header")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.lower()):
        raise SignatureError("signature does not match")


def verify_gitlab_token(secret: str, header: str | None) -> None:
    """Check `X-Gitlab-Token` against the configured secret token."""
    if not header:
        raise SignatureError("missing X-Gitlab-Token header")
    try:  # servers hand header values over as latin-1 text: this recovers the sent bytes
        given = header.encode("latin-1")
    except UnicodeEncodeError:
        given = header.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(secret.encode(), given):
        raise SignatureError("X-Gitlab-Token does not match")


def standard_webhook_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = _standard_webhook_key(secret)
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> None:
    """Check a Standard Webhooks signature (`webhook-id`, `-timestamp`, `-signature`).

    Several space-separated signatures are accepted (key rotation): one valid `v1` is enough.
    """
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = float(int(timestamp))  # a huge integer is refused, not an OverflowError
    except (ValueError, OverflowError):
        raise SignatureError("malformed webhook-timestamp header") from None
    if abs(now - sent_at) > STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is outside the 5-minute tolerance")
    expected = standard_webhook_signature(secret, msg_id, timestamp, body).partition(",")[2]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected.encode(), value.encode()):
            return
    raise SignatureError("no webhook-signature matches")


def _standard_webhook_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the configured signing token is not a whsec_ base64 key") from None


def gitlab_delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """GitLab's idempotency key: `Idempotency-Key`, else `webhook-id`, else the body hash."""
    for name in ("idempotency-key", "webhook-id"):
        value = headers.get(name)
        if value:
            return value[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()
