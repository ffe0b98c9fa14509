"""What forges said of a person's access, kept for minutes (pure, in memory, per process).

Keyed by person and question (a repository, the workspaces); a person signing out
forgets theirs. Bounded: past `max_entries` the oldest answers go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class AccessCache:
    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[Hashable, ...], tuple[float, Any]] = OrderedDict()

    def get(self, person: Hashable, question: Hashable) -> tuple[bool, Any]:
        """(found, answer)."""
        key = (person, question)
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self._clock():
            del self._entries[key]
            return False, None
        return True, entry[1]

    def put(self, person: Hashable, question: Hashable, answer: Any) -> None:
        key = (person, question)
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self.ttl, answer)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, person: Hashable) -> None:
        for key in [k for k in self._entries if k[0] == person]:
            del self._entries[key]
