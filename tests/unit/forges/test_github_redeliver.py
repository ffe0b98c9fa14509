"""Which deliveries are asked for again: never-arrived and send-again answers, newest
attempt of each event, once."""

from __future__ import annotations

from typing import Any

from app.forges.redeliver import redeliver_lost


class FakeApp:
    def __init__(self, deliveries: list[dict[str, Any]]) -> None:
        self.deliveries = deliveries
        self.asked: list[int] = []

    async def hook_deliveries(self, since: float) -> list[dict[str, Any]]:
        return self.deliveries

    async def redeliver(self, delivery_id: int) -> None:
        self.asked.append(delivery_id)


def _d(delivery_id: int, guid: str, status: int) -> dict[str, Any]:
    return {"id": delivery_id, "guid": guid, "status_code": status}


async def test_only_lost_events_are_asked_for_once_each_newest_attempt_first() -> None:
    app = FakeApp(
        [  # newest first, as GitHub lists them
            _d(9, "down-twice", 0),
            _d(8, "ok-after-retry", 202),
            _d(7, "busy", 503),
            _d(6, "ok-after-retry", 503),
            _d(5, "down-twice", 0),
            _d(4, "bad-signature", 401),
            _d(3, "slow", 408),
            _d(2, "ignored", 200),
        ]
    )
    seen: set[str] = set()

    async def first_time(guid: str) -> bool:
        fresh = guid not in seen
        seen.add(guid)
        return fresh

    done = await redeliver_lost(app, first_time, now=1e9)
    assert app.asked == [9, 7, 3]  # down-twice (its newest attempt), busy, slow
    assert (done.scanned, done.lost, done.asked) == (8, 3, 3)
    again = await redeliver_lost(app, first_time, now=1e9)
    assert again.asked == 0 and app.asked == [9, 7, 3]
