"""What can go wrong when asking a model, as types the caller can act on.

`ProviderError` is what an adapter raises, already classified; the router turns it into
a retry, a fallback, or one of the typed errors below. Messages never contain API keys:
adapters build them from status codes and provider messages, which are redacted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from app.llm.types import Attempt

FailureKind = Literal[
    "rate_limited",  # 429
    "overloaded",  # 529, or a provider's "overloaded" error
    "server",  # other 5xx
    "timeout",  # no answer within the client timeout
    "connection",  # refused or DNS: nothing was sent
    "dropped",  # the connection broke or the body was cut off mid-answer
    "invalid_response",  # a 200 that is not JSON or lacks what every answer carries
    "quota",  # out of credit or quota: billing, not a rate limit
    "context_length",  # the prompt does not fit the model's window
    "auth",  # 401 / 403: a configuration problem
    "not_found",  # 404: unknown model or wrong base URL
    "bad_request",  # any other 4xx: our request is wrong
    "invalid_output",  # the answer could not be parsed
]
RETRYABLE: frozenset[str] = frozenset(
    {"rate_limited", "overloaded", "server", "timeout", "connection", "dropped",
     "invalid_response"}
)  # fmt: skip
# Failures that say the model's service is unwell (not our request, not our account):
# they count towards a model's cooldown.
UNWELL: frozenset[str] = frozenset(
    {"overloaded", "server", "timeout", "connection", "dropped", "invalid_response"}
)


class LLMError(Exception):
    """Base of every error the router raises; the message is one line for a person."""


@dataclass
class ProviderError(LLMError):
    kind: FailureKind
    message: str
    status: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        status = f" ({self.status})" if self.status is not None else ""
        return f"{self.kind}{status}: {self.message}"


class ProviderConfigError(LLMError):
    """Authentication or permission refused, unknown model, missing key: fix the settings."""


class ContextTooLong(LLMError):
    """No model in the role's chain has a window large enough: shrink the context."""

    def __init__(self, role: str, attempts: tuple[Attempt, ...]) -> None:
        tried = ", ".join(a.model_id for a in attempts if a.outcome == "context_length")
        super().__init__(
            f"the prompt for role {role} is longer than the context window of {tried}"
            " and no fallback model has a larger one: shrink the context and try again"
        )
        self.role = role
        self.attempts = attempts


class AllModelsFailed(LLMError):
    def __init__(self, role: str, attempts: tuple[Attempt, ...]) -> None:
        tried = "; ".join(f"{a.model_id}: {a.outcome} {a.detail}".strip() for a in attempts)
        super().__init__(f"every model for role {role} failed ({tried})")
        self.role = role
        self.attempts = attempts


class BudgetExhausted(LLMError):
    """A budget would be exceeded by the next call; the run stops with this message."""

    def __init__(
        self,
        budget: str,
        limit_usd: float,
        spent_usd: float,
        estimate_usd: float,
        how_to_raise: str,
    ) -> None:
        super().__init__(
            f"the {budget} budget of ${limit_usd:.2f} is exhausted "
            f"(${spent_usd:.4f} spent, the next call may cost up to ${estimate_usd:.4f}); "
            f"to raise it, {how_to_raise}"
        )
        self.budget = budget
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd


class StructuredOutputError(LLMError):
    """The model's answer did not match the requested schema, even after one repair."""


class ReplayMiss(LLMError):
    """Replay found no recorded answer for a request."""


# --- classification (pure) -----------------------------------------------------------

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|prompt is too long|maximum context|too many tokens"
    r"|input is too long|exceeds? the (?:model'?s? )?(?:maximum|context)",
    re.I,
)


def is_context_length_message(text: str) -> bool:
    return bool(_CONTEXT_LENGTH.search(text))


_QUOTA = re.compile(
    r"insufficient_quota|billing_|credit balance|exceeded your current quota"
    r"|out of credits?|payment required",
    re.I,
)


def is_quota_message(text: str) -> bool:
    return bool(_QUOTA.search(text))


def classify_status(status: int, message: str, error_type: str | None = None) -> FailureKind:
    """The failure kind of an HTTP error answer."""
    if status == 402 or (status in (400, 403, 429) and is_quota_message(f"{error_type} {message}")):
        return "quota"
    if status == 529 or error_type == "overloaded_error":
        return "overloaded"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    if status in (400, 413, 422) and is_context_length_message(f"{error_type} {message}"):
        return "context_length"
    return "bad_request"


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or HTTP date), else
    from the rate-limit reset headers (`x-ratelimit-reset-*`, `anthropic-ratelimit-*-reset`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" not in lowered and "retry-after" not in lowered:
        return rate_limit_reset(lowered, now)
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_RESET = re.compile(
    r"^(?:x-ratelimit-reset-(?P<o>[\w-]+)|anthropic-ratelimit-(?P<a>[\w-]+)-reset)$"
)


def _reset_seconds(value: str, now: float) -> float | None:
    """`6m0s`, `20ms`, `1.5` (OpenAI) or an RFC 3339 time (Anthropic), as seconds from now."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return max(0.0, when - now)


def rate_limit_reset(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """When a 429 carries no `retry-after`: the reset time of the limits that are used up
    (remaining 0), or of all the limits it reports when it does not say which."""
    now = time.time() if now is None else now
    resets: dict[str, float] = {}
    for name, value in headers.items():
        match = _RESET.match(name.lower())
        seconds = _reset_seconds(value, now) if match else None
        if match and seconds is not None:
            resets[match.group("o") or match.group("a")] = seconds
    if not resets:
        return None
    exhausted = [
        seconds
        for limit, seconds in resets.items()
        if headers.get(f"x-ratelimit-remaining-{limit}", "").strip() == "0"
        or headers.get(f"anthropic-ratelimit-{limit}-remaining", "").strip() == "0"
    ]
    return max(exhausted or resets.values())
