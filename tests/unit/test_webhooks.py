"""Webhook authenticity: GitHub HMAC, GitLab token, Standard Webhooks, delivery ids."""

from __future__ import annotations

import hashlib
import hmac
from typing import AnyStr

import pytest

from app.webhooks import (
    STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
    SignatureError,
    github_signature,
    gitlab_delivery_id,
    standard_webhook_signature,
    verify_github_signature,
    verify_gitlab_token,
    verify_standard_webhook,
)

# GitHub's documented example (docs.github.com, "Validating webhook deliveries").
GH_SECRET = b"It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# The Standard Webhooks specification's example.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = "1614265330"
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# --- GitHub ----------------------------------------------------------------------------


def test_github_documented_vector_is_produced_and_accepted() -> None:
    assert github_signature(GH_SECRET, GH_BODY) == GH_SIGNATURE
    verify_github_signature(GH_SECRET, GH_BODY, GH_SIGNATURE)


def test_github_signature_accepts_upper_case_hex_and_surrounding_spaces() -> None:
    algorithm, _, digest = GH_SIGNATURE.partition("=")
    verify_github_signature(GH_SECRET, GH_BODY, f"  {algorithm}={digest.upper()} ")


def test_github_signature_covers_every_byte_of_the_body() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify_github_signature(GH_SECRET, GH_BODY + b"\n", GH_SIGNATURE)
    with pytest.raises(SignatureError, match="does not match"):
        verify_github_signature(b"another secret", GH_BODY, GH_SIGNATURE)


@pytest.mark.parametrize("header", [None, ""])
def test_github_missing_signature(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing X-Hub-Signature-256"):
        verify_github_signature(GH_SECRET, GH_BODY, header)


def test_github_sha1_signature_is_refused_even_when_correct() -> None:
    sha1 = "sha1=" + hmac.new(GH_SECRET, GH_BODY, hashlib.sha1).hexdigest()
    with pytest.raises(SignatureError, match="must be a sha256= signature"):
        verify_github_signature(GH_SECRET, GH_BODY, sha1)


@pytest.mark.parametrize(
    "header",
    [
        "sha256=",
        "sha256=abc",
        "sha256=" + "z" * 64,
        GH_SIGNATURE + "00",
        GH_SIGNATURE[:-1],
        "sha256=" + "é" * 64,
    ],
)
def test_github_malformed_signature(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify_github_signature(GH_SECRET, GH_BODY, header)


@pytest.mark.parametrize("header", ["SHA256=" + GH_SIGNATURE[7:], GH_SIGNATURE[7:], "md5=00"])
def test_github_signature_without_the_sha256_prefix_is_refused(header: str) -> None:
    with pytest.raises(SignatureError, match="sha256="):
        verify_github_signature(GH_SECRET, GH_BODY, header)


def test_github_errors_never_reveal_the_expected_signature() -> None:
    expected = GH_SIGNATURE.partition("=")[2]
    wrong = "sha256=" + "0" * 64
    for header in (None, "sha1=00", "sha256=12", wrong):
        with pytest.raises(SignatureError) as caught:
            verify_github_signature(GH_SECRET, GH_BODY, header)
        assert expected not in str(caught.value)
        assert expected[:8] not in str(caught.value)


def test_github_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: AnyStr, b: AnyStr) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("app.webhooks.hmac.compare_digest", spy)
    verify_github_signature(GH_SECRET, GH_BODY, GH_SIGNATURE)
    assert len(calls) == 1


# --- GitLab token ----------------------------------------------------------------------


def test_gitlab_token_matches() -> None:
    verify_gitlab_token("s3cret-token", "s3cret-token")


def test_gitlab_non_ascii_token_is_compared_as_the_bytes_sent() -> None:
    secret = "tökén"
    verify_gitlab_token(secret, secret.encode("utf-8").decode("latin-1"))  # as servers decode
    with pytest.raises(SignatureError):
        verify_gitlab_token(secret, secret.encode("latin-1").decode("latin-1"))
    with pytest.raises(SignatureError):
        verify_gitlab_token(secret, "tök\u20acn")  # not latin-1 text at all


@pytest.mark.parametrize("header", [None, ""])
def test_gitlab_token_missing(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing X-Gitlab-Token"):
        verify_gitlab_token("s3cret-token", header)


@pytest.mark.parametrize("header", ["s3cret-tokeN", "s3cret-token ", "s3cret", "ß3cret-token"])
def test_gitlab_token_wrong(header: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_gitlab_token("s3cret-token", header)
    assert "s3cret-token" not in str(caught.value)


def test_gitlab_token_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: AnyStr, b: AnyStr) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("app.webhooks.hmac.compare_digest", spy)
    with pytest.raises(SignatureError):
        verify_gitlab_token("s3cret-token", "nope")
    assert calls == [(b"s3cret-token", b"nope")]


# --- Standard Webhooks -----------------------------------------------------------------


def _sw_headers(
    signature: str = SW_SIGNATURE, msg_id: str = SW_ID, timestamp: str = SW_TIMESTAMP
) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def test_standard_webhooks_spec_vector() -> None:
    assert standard_webhook_signature(SW_SECRET, SW_ID, SW_TIMESTAMP, SW_BODY) == SW_SIGNATURE
    verify_standard_webhook(SW_SECRET, _sw_headers(), SW_BODY, now=float(SW_TIMESTAMP))


def test_standard_webhooks_accepts_any_one_of_several_signatures() -> None:
    other = "v1,Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY="
    headers = _sw_headers(f"v1a,whatever {other} {SW_SIGNATURE}")
    verify_standard_webhook(SW_SECRET, headers, SW_BODY, now=float(SW_TIMESTAMP))


def test_standard_webhooks_signature_of_another_version_does_not_count() -> None:
    value = SW_SIGNATURE.partition(",")[2]
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        verify_standard_webhook(
            SW_SECRET, _sw_headers(f"v2,{value}"), SW_BODY, now=float(SW_TIMESTAMP)
        )


def test_standard_webhooks_rotation_with_only_wrong_signatures_fails() -> None:
    headers = _sw_headers("v1,AAAA v1,BBBB")
    with pytest.raises(SignatureError, match="no webhook-signature matches") as caught:
        verify_standard_webhook(SW_SECRET, headers, SW_BODY, now=float(SW_TIMESTAMP))
    assert SW_SIGNATURE.partition(",")[2] not in str(caught.value)


def test_standard_webhooks_signature_covers_id_timestamp_and_body() -> None:
    now = float(SW_TIMESTAMP)
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        verify_standard_webhook(SW_SECRET, _sw_headers(), SW_BODY + b" ", now=now)
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        verify_standard_webhook(SW_SECRET, _sw_headers(msg_id="msg_other"), SW_BODY, now=now)
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        verify_standard_webhook(SW_SECRET, _sw_headers(timestamp="1614265331"), SW_BODY, now=now)


@pytest.mark.parametrize(
    "offset", [-STANDARD_WEBHOOKS_TOLERANCE_SECONDS, STANDARD_WEBHOOKS_TOLERANCE_SECONDS]
)
def test_standard_webhooks_tolerance_edge_is_accepted(offset: int) -> None:
    verify_standard_webhook(SW_SECRET, _sw_headers(), SW_BODY, now=float(SW_TIMESTAMP) - offset)


@pytest.mark.parametrize("offset", [-301, 301, 86_400])
def test_standard_webhooks_outside_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(SignatureError, match="outside the 5-minute tolerance"):
        verify_standard_webhook(SW_SECRET, _sw_headers(), SW_BODY, now=float(SW_TIMESTAMP) - offset)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_missing_header(missing: str) -> None:
    headers = _sw_headers()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing webhook-id"):
        verify_standard_webhook(SW_SECRET, headers, SW_BODY, now=float(SW_TIMESTAMP))


@pytest.mark.parametrize(
    "timestamp", ["soon", "1614265330.5", "", "1" * 5000, "9" * 400, "-" + "9" * 400]
)
def test_standard_webhooks_malformed_timestamp(timestamp: str) -> None:
    headers = _sw_headers(timestamp=timestamp)
    with pytest.raises(SignatureError):
        verify_standard_webhook(SW_SECRET, headers, SW_BODY, now=float(SW_TIMESTAMP))


def test_standard_webhooks_misconfigured_secret_is_a_signature_error() -> None:
    with pytest.raises(SignatureError, match="not a whsec_ base64 key"):
        verify_standard_webhook(
            "whsec_not base64!", _sw_headers(), SW_BODY, now=float(SW_TIMESTAMP)
        )


def test_standard_webhooks_secret_prefix_is_optional() -> None:
    bare = SW_SECRET.removeprefix("whsec_")
    assert standard_webhook_signature(bare, SW_ID, SW_TIMESTAMP, SW_BODY) == SW_SIGNATURE


# --- GitLab delivery ids ---------------------------------------------------------------


def test_gitlab_delivery_id_prefers_idempotency_key() -> None:
    headers = {"idempotency-key": "idem-1", "webhook-id": "msg_1"}
    assert gitlab_delivery_id(headers, b"{}") == "idem-1"


def test_gitlab_delivery_id_falls_back_to_webhook_id() -> None:
    assert gitlab_delivery_id({"webhook-id": "msg_1"}, b"{}") == "msg_1"


def test_gitlab_delivery_id_falls_back_to_the_body_hash() -> None:
    first = gitlab_delivery_id({}, b'{"a": 1}')
    assert first == "sha256:" + hashlib.sha256(b'{"a": 1}').hexdigest()
    assert gitlab_delivery_id({"idempotency-key": ""}, b'{"a": 1}') == first
    assert gitlab_delivery_id({}, b'{"a": 2}') != first


def test_gitlab_delivery_id_is_bounded() -> None:
    assert len(gitlab_delivery_id({"idempotency-key": "k" * 10_000}, b"")) == 200
