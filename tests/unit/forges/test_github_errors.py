"""Mapping GitHub responses to ForgeError kinds, and the bounded retry loop."""

from __future__ import annotations

import httpx
import pytest

from app.forges.base import (
    ForgeAccessError,
    ForgeError,
    ForgeRateLimited,
    ForgeTransientError,
)
from app.forges.github.errors import (
    DEFAULT_RATE_LIMIT_WAIT,
    GitHubAPIError,
    GitHubUnauthorized,
    call_with_retries,
    forge_error_from_status,
    rate_limit_wait,
)
from app.forges.retry import RetryPolicy


def test_rate_limit_waits() -> None:
    assert rate_limit_wait(429, "", {"retry-after": "12"}) == 12
    assert rate_limit_wait(429, "", {}) == DEFAULT_RATE_LIMIT_WAIT
    assert rate_limit_wait(403, "You have exceeded a secondary rate limit", {}) == 60
    assert (
        rate_limit_wait(
            403, "", {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1100"}, now=1000
        )
        == 100
    )
    assert rate_limit_wait(403, "Resource not accessible by integration", {}) is None
    assert rate_limit_wait(500, "", {"retry-after": "3"}) is None


def test_mapping() -> None:
    limited = forge_error_from_status(429, "slow down", {"retry-after": "5"}, "post")
    assert isinstance(limited, ForgeRateLimited) and limited.retry_after == 5
    denied = forge_error_from_status(
        403, "Resource not accessible by integration", {}, "create a check run", "acme/app"
    )
    assert isinstance(denied, ForgeAccessError) and "acme/app" in str(denied)
    assert "permission" in str(denied)
    suspended = forge_error_from_status(403, "This installation has been suspended", {}, "x")
    assert isinstance(suspended, ForgeAccessError) and "suspended" in str(suspended)
    assert type(forge_error_from_status(502, "bad gateway", {}, "x")) is ForgeTransientError
    assert isinstance(forge_error_from_status(401, "Bad credentials", {}, "x"), GitHubUnauthorized)
    missing = forge_error_from_status(404, "Not Found", {}, "x")
    assert isinstance(missing, GitHubAPIError) and missing.status == 404
    assert not isinstance(missing, ForgeTransientError)


async def test_retries_transient_then_gives_up() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("refused")

    with pytest.raises(ForgeTransientError):
        await call_with_retries(flaky, action="x", policy=RetryPolicy(4, 0.001, 0.001))
    assert attempts == 4


async def test_does_not_retry_other_errors() -> None:
    import http

    from gidgethub import BadRequest

    attempts = 0

    async def refused() -> str:
        nonlocal attempts
        attempts += 1
        raise BadRequest(http.HTTPStatus.TOO_MANY_REQUESTS, "slow", headers={"retry-after": "9"})

    with pytest.raises(ForgeRateLimited) as caught:
        await call_with_retries(refused, action="x", policy=RetryPolicy(4, 0.001, 0.001))
    assert attempts == 1 and caught.value.retry_after == 9
    assert isinstance(caught.value, ForgeError)


def test_backoff_is_bounded() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=2.0)
    assert all(0.25 <= policy.delay(n) <= 2.0 for n in range(1, 10))
