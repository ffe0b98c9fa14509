"""Turning GitHub's error responses into `ForgeError` kinds, and bounded retries.

Pure mapping (`forge_error_from_http`) plus one retry loop (`call_with_retries`):
- 5xx and network errors are retried a few times with jittered backoff, then raised as
  `ForgeTransientError` so the job can be retried later;
- 429 and secondary rate limits raise `ForgeRateLimited` at once, with `retry_after`,
  so the worker defers the job instead of sleeping here;
- 403 "Resource not accessible by integration" and suspended installations raise
  `ForgeAccessError` with a message fit to show the person; never retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import httpx
from gidgethub import HTTPException

from app.forges.base import (
    ForgeAccessError,
    ForgeAPIError,
    ForgeError,
    ForgeRateLimited,
    ForgeTransientError,
)
from app.forges.retry import RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

# When GitHub signals a secondary rate limit without saying how long to wait, its docs
# ask clients to wait at least a minute.
DEFAULT_RATE_LIMIT_WAIT = 60.0

_ACCESS_HINT = (
    "The AgentOps GitHub App may not do this in {where}. An owner can grant the missing "
    "permission under the app's installation settings."
)


class GitHubAPIError(ForgeAPIError):
    """A GitHub call failed with a status that retrying will not fix (4xx)."""


class GitHubUnauthorized(GitHubAPIError):
    """401: the token or JWT was rejected."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 401)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def rate_limit_wait(
    status: int, message: str, headers: Mapping[str, str], now: float | None = None
) -> float | None:
    """Seconds to wait if this response is a (primary or secondary) rate limit, else None."""
    retry_after = _header(headers, "retry-after")
    remaining = _header(headers, "x-ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset")
    limited = status == 429 or (
        status == 403
        and (retry_after is not None or remaining == "0" or "rate limit" in message.lower())
    )
    if not limited:
        return None
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    if remaining == "0" and reset is not None:
        try:
            return max(1.0, float(reset) - (time.time() if now is None else now))
        except ValueError:
            pass
    return DEFAULT_RATE_LIMIT_WAIT


def forge_error_from_status(
    status: int, message: str, headers: Mapping[str, str], action: str, repo: str | None = None
) -> ForgeError:
    """Map one failed GitHub response to the `ForgeError` kind callers act on."""
    where = repo or "this repository"
    wait = rate_limit_wait(status, message, headers)
    if wait is not None:
        return ForgeRateLimited(
            f"GitHub rate limit while trying to {action}; retry in {wait:.0f} s", wait
        )
    lowered = message.lower()
    if status == 403 and "suspended" in lowered:
        return ForgeAccessError(
            "The AgentOps GitHub App installation is suspended; an owner must unsuspend it "
            f"before AgentOps can {action}."
        )
    if status == 403 and "not accessible by integration" in lowered:
        return ForgeAccessError(f"Could not {action}: " + _ACCESS_HINT.format(where=where))
    if status >= 500:
        return ForgeTransientError(f"GitHub failed to {action} (HTTP {status}): {message}")
    if status == 401:
        return GitHubUnauthorized(f"GitHub rejected our credentials while trying to {action}")
    return GitHubAPIError(f"GitHub refused to {action} (HTTP {status}): {message}", status)


def forge_error_from_http(exc: HTTPException, action: str, repo: str | None = None) -> ForgeError:
    status = int(exc.status_code)
    message = str(exc.args[0]) if exc.args and exc.args[0] else exc.status_code.phrase
    return forge_error_from_status(status, message, exc.headers, action, repo)


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    action: str,
    policy: RetryPolicy,
    repo: str | None = None,
) -> T:
    """Run `operation`, retrying 5xx and network faults; map every failure to ForgeError."""
    attempt = 0
    while True:
        attempt += 1
        cause: Exception
        try:
            return await operation()
        except HTTPException as exc:
            cause, error = exc, forge_error_from_http(exc, action, repo)
        except httpx.TransportError as exc:
            cause, error = (
                exc,
                ForgeTransientError(f"Could not reach GitHub to {action}: {type(exc).__name__}"),
            )
        if type(error) is not ForgeTransientError or attempt >= policy.attempts:
            raise error from cause
        delay = policy.delay(attempt)
        log.warning(
            "GitHub call to %s failed (%s); retry %d in %.2f s", action, error, attempt, delay
        )
        await asyncio.sleep(delay)
