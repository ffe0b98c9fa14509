"""How often one lost delivery is asked for again, between all the workers: while its
attempts fail, at each look, five times in the three days' window at most."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import redis.asyncio as aioredis

from app.config import Settings
from app.forges.redeliver import WINDOW_SECONDS
from jobs.redelivery import MAX_ASKS, may_ask_again


async def test_an_event_is_asked_for_five_times_at_most_by_all_workers(
    redis_url: str, queue_name: str
) -> None:
    deps = SimpleNamespace(settings=Settings(queue_name=queue_name))
    one: dict[str, Any] = {"deps": deps, "redis": aioredis.Redis.from_url(redis_url)}
    other: dict[str, Any] = {"deps": deps, "redis": aioredis.Redis.from_url(redis_url)}
    try:
        answers = [
            await may_ask_again(ctx, "github")("guid-1")
            for ctx in (one, other, one, other, one, other)
        ]
        assert answers == [True] * MAX_ASKS + [False]
        assert await may_ask_again(one, "gitlab")("guid-1")  # another forge's event of that name
        ttl = await one["redis"].ttl(f"{queue_name}:redelivered:guid-1")
        assert WINDOW_SECONDS - 10 < ttl <= WINDOW_SECONDS
    finally:
        await one["redis"].delete(
            f"{queue_name}:redelivered:guid-1", f"{queue_name}:redelivered:gitlab:guid-1"
        )
        for ctx in (one, other):
            await ctx["redis"].aclose()
