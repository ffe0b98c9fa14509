"""Forge API calls by forge, read or write, endpoint family and status class; and the
rate limit the forge last said is left (`X-RateLimit-Remaining`, `RateLimit-Remaining`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter, Gauge, Histogram

from app.metrics.labels import endpoint_family, method_class, status_class

CALLS = Counter(
    "agentops_forge_calls",
    "Forge API calls by forge, method class (read/write), endpoint family and status class.",
    ["forge", "method", "endpoint", "status"],
)
SECONDS = Histogram(
    "agentops_forge_call_seconds",
    "Time of one forge API call.",
    ["forge"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_LIMIT_REMAINING = Gauge(
    "agentops_forge_rate_limit_remaining",
    "API calls left in the forge's rate-limit window, as its last answer said.",
    ["forge"],
    multiprocess_mode="mostrecent",
)
_REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining")


def observe_forge_call(
    forge: str,
    method: str,
    path: str,
    status: int | None,
    seconds: float,
    headers: Mapping[str, str] | None = None,
) -> None:
    """One HTTP call to a forge's API (`status` None: no answer came)."""
    CALLS.labels(forge, method_class(method), endpoint_family(path), status_class(status)).inc()
    SECONDS.labels(forge).observe(seconds)
    for name in _REMAINING_HEADERS:
        value = headers.get(name) if headers is not None else None
        if value is not None and value.isdigit():
            RATE_LIMIT_REMAINING.labels(forge).set(int(value))
            return


def requests_hook(forge: str) -> Callable[..., Any]:
    """A `requests` response hook counting every answer of `forge` (a client on requests,
    as python-gitlab is)."""

    def count(response: Any, *args: Any, **kwargs: Any) -> Any:
        request = response.request
        observe_forge_call(
            forge,
            str(request.method or "GET"),
            urlsplit(str(request.url)).path,
            int(response.status_code),
            response.elapsed.total_seconds(),
            response.headers,
        )
        return response

    return count
