from email.utils import formatdate

import pytest

from app.llm.errors import classify_status, is_context_length_message, parse_retry_after


@pytest.mark.parametrize(
    ("status", "message", "error_type", "kind"),
    [
        (429, "rate limited", "rate_limit_error", "rate_limited"),
        (529, "Overloaded", "overloaded_error", "overloaded"),
        (500, "boom", None, "server"),
        (503, "unavailable", None, "server"),
        (401, "invalid x-api-key", "authentication_error", "auth"),
        (403, "forbidden", "permission_error", "auth"),
        (404, "model not found", None, "not_found"),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", None, "context_length"),
        (400, "This model's maximum context length is 128000 tokens", None, "context_length"),
        (400, "bad", "invalid_request_error context_length_exceeded", "context_length"),
        (400, "messages: field required", "invalid_request_error", "bad_request"),
        (429, "You exceeded your current quota, please check your plan", None, "quota"),
        (429, "quota", "insufficient_quota insufficient_quota", "quota"),
        (400, "Your credit balance is too low", "invalid_request_error", "quota"),
        (402, "Payment Required", None, "quota"),
        (429, "Rate limit reached for gpt-4.1 on tokens per min", "requests", "rate_limited"),
    ],
)
def test_http_errors_are_classified(
    status: int, message: str, error_type: str | None, kind: str
) -> None:
    assert classify_status(status, message, error_type) == kind


def test_context_length_wording_of_ollama_and_vllm() -> None:
    assert is_context_length_message("the input is too long for the model")
    assert is_context_length_message("Input length exceeds the maximum context length")
    assert not is_context_length_message("invalid tool schema")


def test_retry_after_in_seconds_milliseconds_and_http_date() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    date = formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30.0)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_rate_limit_reset_headers_when_retry_after_is_absent() -> None:
    used_up = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m2.5s",
        "x-ratelimit-remaining-tokens": "12000",
        "x-ratelimit-reset-tokens": "20ms",
    }
    assert parse_retry_after(used_up) == pytest.approx(62.5)  # the exhausted limit's
    assert parse_retry_after({"x-ratelimit-reset-tokens": "2s"}) == 2.0
    assert parse_retry_after({"x-ratelimit-reset-requests": "1.5"}) == 1.5
    anthropic = {
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "1970-01-12T13:46:50Z",  # 1_000_010
        "anthropic-ratelimit-requests-reset": "1970-01-12T13:50:00Z",
    }
    assert parse_retry_after(anthropic, now=1_000_000) == pytest.approx(10.0)
    assert parse_retry_after({**used_up, "retry-after": "3"}) == 3.0  # retry-after wins
    assert parse_retry_after({"x-ratelimit-reset-requests": "whenever"}) is None
