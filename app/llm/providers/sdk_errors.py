"""Turning the anthropic and openai SDKs' exceptions into classified `ProviderError`s."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anthropic
import httpx2
import openai

from app.llm.errors import FailureKind, ProviderError, classify_status, parse_retry_after
from app.redaction import redact

_MAX_MESSAGE = 300
# What reading a 200 that is not an answer raises (JSON, pydantic, missing keys).
UNREADABLE = (ValueError, TypeError, KeyError, AttributeError)


def _error_fields(body: object) -> tuple[str, str | None]:
    """(message, type-or-code) from `{"error": {...}}` or a bare `{"message": ...}`."""
    if isinstance(body, dict):
        error: Any = body.get("error", body)
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            kind = error.get("type") or error.get("code")
            code = error.get("code")
            if isinstance(code, str) and code != kind:
                kind = f"{kind} {code}"
            return message, str(kind) if kind else None
        if isinstance(error, str):
            return error, None
    return "", None


def translate_sdk_error(exc: Exception, secrets: Iterable[str] = ()) -> ProviderError | None:
    """A `ProviderError` for an SDK exception, or None when it is not one of theirs."""
    if isinstance(exc, anthropic.APITimeoutError | openai.APITimeoutError):
        return ProviderError("timeout", "no answer within the client timeout")
    if isinstance(exc, anthropic.APIConnectionError | openai.APIConnectionError):
        cause = exc.__cause__ or exc
        # Refused before anything was sent rarely heals within seconds; a connection that
        # broke or a body cut off mid-answer is as transient as a 5xx.
        kind: FailureKind = "connection" if isinstance(cause, httpx2.ConnectError) else "dropped"
        detail = redact(str(cause), secrets) or type(cause).__name__
        return ProviderError(kind, detail[:_MAX_MESSAGE])
    if isinstance(exc, anthropic.APIStatusError | openai.APIStatusError):
        message, error_type = _error_fields(exc.body)
        if not message:
            message = exc.response.reason_phrase or "error"
        status = exc.status_code
        kind = classify_status(status, message, error_type)
        headers = {k: v for k, v in exc.response.headers.items()}
        return ProviderError(
            kind,
            redact(message, secrets)[:_MAX_MESSAGE],
            status=status,
            retry_after=parse_retry_after(headers),
        )
    if isinstance(exc, anthropic.AnthropicError | openai.OpenAIError):
        # e.g. a response that failed the SDK's own validation
        return invalid_response(exc, secrets)
    return None


def invalid_response(exc: BaseException, secrets: Iterable[str] = ()) -> ProviderError:
    """A 200 that could not be read as an answer: not JSON, cut off, fields missing."""
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)[:_MAX_MESSAGE]
    return ProviderError("invalid_response", f"the answer could not be read ({detail})")
