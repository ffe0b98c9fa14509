"""A probe's answer kept for the process when it is good, and only for a while when not.

The sandbox's and the MCP servers' confinement probes start `bwrap` once to see whether
the host can make its namespaces. A success holds for the process's life; a failure may be
passing (a probe that timed out on a loaded host, a temporary folder that could not be
made), and kept for ever it would refuse every run until a restart. So a failure is asked
again once `retry_seconds` have passed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SuccessCached(Generic[T]):
    def __init__(self, probe: Callable[[], T], ok: Callable[[T], bool], retry_seconds: float):
        self.probe, self.ok, self.retry_seconds = probe, ok, retry_seconds
        self.__doc__ = probe.__doc__
        self.__wrapped__ = probe  # the probe itself, uncached (as functools' caches have)
        self._lock = threading.Lock()  # the probes run in worker threads too: one at once
        self._answer: tuple[T, float] | None = None  # the answer, and when it was had

    def __call__(self) -> T:
        with self._lock:
            if self._answer is not None:
                answer, when = self._answer
                if self.ok(answer) or time.monotonic() - when < self.retry_seconds:
                    return answer
            answer = self.probe()
            self._answer = (answer, time.monotonic())
            return answer

    def cache_clear(self) -> None:
        with self._lock:
            self._answer = None


def success_cached(
    ok: Callable[[Any], bool], retry_seconds: float = 60.0
) -> Callable[[Callable[[], T]], SuccessCached[T]]:
    """`@success_cached(lambda status: status.available)` over a probe of no arguments."""

    def wrap(probe: Callable[[], T]) -> SuccessCached[T]:
        return SuccessCached(probe, ok, retry_seconds)

    return wrap
