"""Turning GitLab's error responses into `ForgeError` kinds, and bounded retries.

python-gitlab blocks, so every call runs in a thread under `asyncio.wait_for`, and the
client carries its own request timeout as well (`call_with_retries`); the thread is
counted (app/forges/threads.py), so that a run handed over waits for it to end:
- 5xx and network errors are retried a few times with jittered backoff, then raised as
  `ForgeTransientError` so the job can be retried later;
- 429 raises `ForgeRateLimited` at once with `retry_after` taken from `Retry-After` or
  `RateLimit-Reset` (a `requests` response hook sees the headers before python-gitlab
  would sleep on them), so the worker defers the job instead of sleeping here;
- 401/403 raise `ForgeAccessError` with a message fit to show a person; never retried;
- other 4xx raise `GitLabAPIError` (a `ForgeError`) carrying the status.
Tokens never reach a message: every text taken from a response or exception is redacted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from gitlab.exceptions import GitlabError

from app.forges.base import (
    ForgeAccessError,
    ForgeAPIError,
    ForgeError,
    ForgeRateLimited,
    ForgeTransientError,
)
from app.forges.retry import RetryPolicy
from app.forges.threads import in_thread
from app.redaction import redact

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RATE_LIMIT_WAIT = 60.0


class GitLabAPIError(ForgeAPIError):
    """A GitLab call failed with a status that retrying will not fix (4xx)."""


class GitLabRateLimitSignal(Exception):
    """Raised by the session hook on a 429, so the headers are not lost."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:g}s")
        self.retry_after = retry_after


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or `RateLimit-Reset`."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("RateLimit-Reset") or headers.get("ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            pass
    return DEFAULT_RATE_LIMIT_WAIT


def raise_on_rate_limit(response: Any, *args: Any, **kwargs: Any) -> Any:
    """`requests` response hook: turn a 429 into `GitLabRateLimitSignal` at once."""
    if response.status_code == 429:
        wait = retry_after_seconds(response.headers)
        response.close()  # the exception skips python-gitlab, which would release it
        raise GitLabRateLimitSignal(wait)
    return response


def forge_error_from_gitlab(
    exc: GitlabError, action: str, secrets: Iterable[str] = ()
) -> ForgeError:
    """Map a python-gitlab error to the forge error kinds; the message names the action."""
    status = exc.response_code
    detail = redact(str(exc.error_message), secrets)[:500]
    if status is None:
        return ForgeTransientError(
            f"GitLab answered {action} with an unreadable response: {detail}"
        )
    if status == 401:
        return ForgeAccessError(
            f"GitLab rejected the AgentOps token while {action} (401 Unauthorized). "
            "Check that AGENTOPS_GITLAB_TOKEN is valid, not expired, and has the api scope."
        )
    if status == 403:
        return ForgeAccessError(
            f"GitLab did not allow AgentOps to {action} (403 Forbidden). The AgentOps bot "
            "user needs at least the Developer role in this project; a maintainer can "
            f"grant it under Manage > Members. GitLab said: {detail}"
        )
    if status == 429:
        return ForgeRateLimited(
            f"GitLab rate-limited AgentOps while {action}", DEFAULT_RATE_LIMIT_WAIT
        )
    if status >= 500:
        return ForgeTransientError(f"GitLab failed while {action} ({status}): {detail}")
    if status == 404:
        return GitLabAPIError(f"GitLab found nothing while {action} (404): {detail}", status)
    return GitLabAPIError(f"GitLab refused to {action} ({status}): {detail}", status)


async def call_with_retries(
    fn: Callable[[], T],
    *,
    action: str,
    time_budget: float,
    policy: RetryPolicy,
    secrets: Iterable[str] = (),
) -> T:
    """Run blocking `fn` in a thread, retrying transient faults, all within `time_budget` s."""
    secrets = list(secrets)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_budget
    too_slow = (
        f"GitLab did not answer within {time_budget:g}s while {action}; "
        "it may be overloaded or unreachable"
    )
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise ForgeTransientError(too_slow)
        try:
            return await asyncio.wait_for(in_thread(fn), remaining)
        except TimeoutError:
            raise ForgeTransientError(too_slow) from None
        except GitLabRateLimitSignal as signal:
            raise ForgeRateLimited(
                f"GitLab rate-limited AgentOps while {action}; retry in {signal.retry_after:.0f}s",
                signal.retry_after,
            ) from None
        except requests.Timeout:
            raise ForgeTransientError(too_slow) from None
        except requests.RequestException as exc:
            error: ForgeError = ForgeTransientError(
                f"Could not reach GitLab while {action}: "
                f"{redact(type(exc).__name__ + ': ' + str(exc), secrets)[:300]}"
            )
        except GitlabError as exc:
            error = forge_error_from_gitlab(exc, action, secrets)
            if not isinstance(error, ForgeTransientError) or isinstance(error, ForgeRateLimited):
                raise error from None
        if attempt >= policy.attempts:
            raise error
        pause = min(policy.delay(attempt), max(0.0, deadline - loop.time()))
        log.warning(
            "gitlab: %s failed (try %d of %d), retrying in %.2fs: %s",
            action,
            attempt,
            policy.attempts,
            pause,
            error,
        )
        await asyncio.sleep(pause)
