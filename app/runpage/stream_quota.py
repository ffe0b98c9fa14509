"""How many live event streams one person may hold open on one web process.

Each open stream costs a connection slot and, after every 15 s of silence, a database
read: a script holding thousands of them open for one person would cost everyone else.
A browser holds one per open run page; the limit leaves room for many tabs."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

STREAMS_PER_PERSON = 24


class StreamQuota:
    def __init__(self, limit: int = STREAMS_PER_PERSON) -> None:
        self.limit = limit
        self._open: Counter[tuple[str, str]] = Counter()

    def open_streams(self, person: tuple[str, str]) -> int:
        return self._open[person]

    @contextlib.contextmanager
    def held(self, person: tuple[str, str]) -> Iterator[bool]:
        """True (and counted until the block ends) when `person` is within the limit."""
        if self._open[person] >= self.limit:
            yield False
            return
        self._open[person] += 1
        try:
            yield True
        finally:
            self._open[person] -= 1
            if not self._open[person]:
                del self._open[person]
