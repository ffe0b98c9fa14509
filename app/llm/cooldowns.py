"""Models that keep failing are skipped by every worker for a while.

A model whose service is unwell (timeouts, dropped connections, 5xx, overload) gets
`failures` failures within `window` seconds; then it is in cooldown for `cooldown`
seconds: the router skips it at once and goes on to the next model, instead of each call
of each worker paying minutes of timeouts and backoff. After the cooldown the model is
tried again; an answer clears its count. The state lives in Redis, so every worker and
the web process (`/metrics`, `agentops doctor`) see the same cooldowns; a process
without Redis keeps its own in memory. Redis being unreachable never stops a model call:
the model is then simply not skipped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from app.queue import REDIS_ERRORS, redis_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CooldownPolicy:
    failures: int = 3  # failures allowed within the window; the next one starts a cooldown
    window: float = 300.0
    cooldown: float = 120.0


class Cooldowns(Protocol):
    policy: CooldownPolicy

    async def remaining(self, model_id: str) -> float | None:
        """Seconds left of the model's cooldown, or None when it may be called."""
        ...

    async def failed(self, model_id: str) -> float | None:
        """Count a failure; the cooldown's length when this one started it."""
        ...

    async def answered(self, model_id: str) -> None: ...

    async def active(self) -> dict[str, float] | None:
        """Every model in cooldown, with the seconds left (None: cannot be known now)."""
        ...

    async def close(self) -> None: ...


class MemoryCooldowns:
    def __init__(self, policy: CooldownPolicy | None = None) -> None:
        self.policy = policy or CooldownPolicy()
        self._failures: dict[str, list[float]] = {}
        self._until: dict[str, float] = {}

    async def remaining(self, model_id: str) -> float | None:
        left = self._until.get(model_id, 0.0) - time.monotonic()
        return left if left > 0 else None

    async def failed(self, model_id: str) -> float | None:
        now = time.monotonic()
        recent = [t for t in self._failures.get(model_id, []) if now - t < self.policy.window]
        recent.append(now)
        if len(recent) < self.policy.failures:
            self._failures[model_id] = recent
            return None
        self._failures.pop(model_id, None)
        self._until[model_id] = now + self.policy.cooldown
        return self.policy.cooldown

    async def answered(self, model_id: str) -> None:
        self._failures.pop(model_id, None)

    async def active(self) -> dict[str, float] | None:
        now = time.monotonic()
        return {m: until - now for m, until in sorted(self._until.items()) if until > now}

    async def close(self) -> None:
        return None


class RedisCooldowns:
    def __init__(self, redis_url: str, prefix: str, policy: CooldownPolicy | None = None) -> None:
        self.policy = policy or CooldownPolicy()
        self._redis = redis_client(redis_url)
        self._prefix = f"{prefix}:llm-cooldown"
        self._warned = False

    def _key(self, kind: str, model_id: str) -> str:
        return f"{self._prefix}:{kind}:{model_id}"

    def _unreachable(self, exc: Exception) -> None:
        if not self._warned:  # once per router: every call would say it again
            logger.warning("model cooldowns unavailable, Redis unreachable (%s)", exc)
            self._warned = True

    async def remaining(self, model_id: str) -> float | None:
        try:
            left_ms = await self._redis.pttl(self._key("until", model_id))
        except REDIS_ERRORS as exc:
            self._unreachable(exc)
            return None
        return left_ms / 1000 if left_ms > 0 else None

    async def failed(self, model_id: str) -> float | None:
        count_key = self._key("failures", model_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(count_key)
                pipe.expire(count_key, int(self.policy.window), nx=True)
                count, _ = await pipe.execute()
            if int(count) < self.policy.failures:
                return None
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._key("until", model_id), "1", px=int(self.policy.cooldown * 1000))
                pipe.delete(count_key)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self._unreachable(exc)
            return None
        return self.policy.cooldown

    async def answered(self, model_id: str) -> None:
        try:
            await self._redis.delete(self._key("failures", model_id))
        except REDIS_ERRORS as exc:
            self._unreachable(exc)

    async def active(self) -> dict[str, float] | None:
        found: dict[str, float] = {}
        head = self._key("until", "")
        try:
            async for key in self._redis.scan_iter(match=f"{head}*", count=200):
                left_ms = await self._redis.pttl(key)
                if left_ms > 0:
                    found[key.removeprefix(head)] = left_ms / 1000
        except REDIS_ERRORS as exc:
            self._unreachable(exc)
            return None
        return dict(sorted(found.items()))

    async def close(self) -> None:
        await self._redis.aclose()
