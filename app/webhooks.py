"""Webhook authenticity: GitHub HMAC signatures, GitLab tokens and Standard Webhooks.

Pure functions over bytes and headers; nothing here does I/O. Every comparison is
constant-time and no error message contains the expected value.

GitLab has no App secret: whoever can see a project's webhook settings (its maintainers)
knows the token. So each project, or group, gets its own token, derived from the
operator's `AGENTOPS_GITLAB_WEBHOOK_SECRET` (nothing is stored per project), and a
delivery is accepted only with the token of the project its payload names, or of a
group (at any level) that project is in. Tokens are keyed by path, not numeric id: a
group hook covers projects the operator never saw, which only their path ties to the
group. Renaming or moving a project or group changes its token (its hook must be given
the new one); the same path always gets the same token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request is not proven to come from the forge; the text is safe to return."""


def github_signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# one compiled match: a generator over the 64 characters cost ~4 µs of each delivery
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def github_signature_digest(header: str | None) -> str:
    """The hex digest `X-Hub-Signature-256` claims, checked for its shape only: a delivery
    without one is refused before its body is read. SHA-1 (`X-Hub-Signature`) is not
    accepted."""
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    algorithm, _, digest = header.strip().partition("=")
    if algorithm != "sha256":
        raise SignatureError("X-Hub-Signature-256 must be a sha256= signature")
    if _SHA256_HEX.fullmatch(digest) is None:
        raise SignatureError("malformed X-Hub-Signature-256 header")
    return digest.lower()


def github_mac(secret: bytes) -> hmac.HMAC:
    """The HMAC to feed the body to as it arrives (no second copy of it)."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def verify_github_mac(mac: hmac.HMAC, digest: str) -> None:
    if not hmac.compare_digest(mac.hexdigest(), digest):
        raise SignatureError("signature does not match")


def verify_github_signature(secret: bytes, body: bytes, header: str | None) -> None:
    """Check `X-Hub-Signature-256` against a whole body."""
    digest = github_signature_digest(header)
    mac = github_mac(secret)
    mac.update(body)
    verify_github_mac(mac, digest)


def verify_gitlab_token(secret: str, header: str | None) -> None:
    """Check `X-Gitlab-Token` against the configured secret token."""
    if not header:
        raise SignatureError("missing X-Gitlab-Token header")
    if not hmac.compare_digest(secret.encode(), _header_bytes(header)):
        raise SignatureError("X-Gitlab-Token does not match")


GITLAB_TOKEN_PREFIX = "glwh_"  # noqa: S105 - a marker, not a secret


def gitlab_webhook_secret(operator_secret: str, path: str, *, group: bool = False) -> str:
    """The `X-Gitlab-Token` of the project (or, with `group`, the group) at `path`.

    HMAC-SHA256 of the operator's secret over the scope and the path (lowercase: GitLab
    paths are case-insensitive), URL-safe base64 without padding.
    """
    scope = "group" if group else "project"
    # a payload's JSON may hold lone surrogates: they are hashed, never an error
    message = f"gitlab-webhook:{scope}:{normalized_gitlab_path(path)}".encode(
        "utf-8", "surrogatepass"
    )
    digest = hmac.new(operator_secret.encode(), message, hashlib.sha256).digest()
    return GITLAB_TOKEN_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_GITLAB_TOKEN_LENGTH = len(GITLAB_TOKEN_PREFIX) + 43  # 32 bytes, URL-safe base64, no padding


def verify_gitlab_token_shape(header: str | None, *, accept_shared_secret: bool = False) -> None:
    """A cheap first look, before the body is parsed to learn its project: anything but a
    derived token (or, when the operator opted in, any token) is refused at once."""
    if not header:
        raise SignatureError("missing X-Gitlab-Token header")
    if accept_shared_secret:
        return
    tail = header.removeprefix(GITLAB_TOKEN_PREFIX)
    if (
        len(header) != _GITLAB_TOKEN_LENGTH
        or not header.startswith(GITLAB_TOKEN_PREFIX)
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in tail)
    ):
        raise SignatureError(
            "X-Gitlab-Token does not match: it is no project or group token; set the hook's"
            " secret token to the one `agentops gitlab-secret PATH` shows for its project"
        )


def normalized_gitlab_path(path: str) -> str:
    return path.strip().strip("/").lower()


def gitlab_groups_of(project_path: str) -> list[str]:
    """The groups a project at `project_path` is in, nearest first: a/b/c -> a/b, a."""
    parts = normalized_gitlab_path(project_path).split("/")
    return ["/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def verify_gitlab_project_token(
    operator_secret: str,
    project_path: str | None,
    header: str | None,
    *,
    accept_shared_secret: bool = False,
) -> str:
    """Check `X-Gitlab-Token` against the token of the payload's project or its groups.

    Returns what matched: "project PATH", "group PATH" or, only when the operator opted in
    for a migration, "shared secret". Every candidate is compared, in constant time.
    """
    if not header:
        raise SignatureError("missing X-Gitlab-Token header")
    if not project_path or not normalized_gitlab_path(project_path):
        raise SignatureError(
            "the payload names no project (project.path_with_namespace), so its"
            " X-Gitlab-Token cannot be checked"
        )
    given = _header_bytes(header)
    candidates = [
        (
            f"project {normalized_gitlab_path(project_path)}",
            gitlab_webhook_secret(operator_secret, project_path),
        ),
        *(
            (f"group {group}", gitlab_webhook_secret(operator_secret, group, group=True))
            for group in gitlab_groups_of(project_path)
        ),
    ]
    if accept_shared_secret:
        candidates.append(("shared secret", operator_secret))
    matched = None
    for name, token in candidates:
        if hmac.compare_digest(token.encode(), given) and matched is None:
            matched = name
    if matched is None:
        raise SignatureError(
            f"X-Gitlab-Token does not match the secret of project"
            f" {normalized_gitlab_path(project_path)} or of a group it is in: set the hook's"
            f" secret token to the one `agentops gitlab-secret PATH` shows for that project"
            f" (or `--group` for a group hook)"
        )
    return matched


def _header_bytes(header: str) -> bytes:
    try:  # servers hand header values over as latin-1 text: this recovers the sent bytes
        return header.encode("latin-1")
    except UnicodeEncodeError:
        return header.encode("utf-8", "surrogateescape")


def standard_webhook_signature(
    secret: str, msg_id: str, timestamp: str, body: bytes | bytearray
) -> str:
    key = _standard_webhook_key(secret)
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes | bytearray, now: float
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


def gitlab_delivery_id(headers: Mapping[str, str], body: bytes | bytearray) -> str:
    """GitLab's idempotency key: `Idempotency-Key`, else `webhook-id`, else the body hash."""
    for name in ("idempotency-key", "webhook-id"):
        value = headers.get(name)
        if value:
            return value[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()
