"""Deliveries a forge could not hand over, asked for again.

GitHub sends each webhook once, and GitLab gives up on a hook's delivery (and, after
several in a row, disables the hook for a while): a delivery that found AgentOps down (or
got a 5xx, a 408 or a 429 from it) is lost unless someone asks for it again. At start and
then every `AGENTOPS_GITHUB_REDELIVER_SECONDS` (`…GITLAB…`), the worker lists the
deliveries of the last three days (the GitHub App's; the GitLab project hooks that point
at AgentOps, app/forges/gitlab/hook_events.py), and for each event (`guid`) that never got
a 2xx asks the forge to send its newest attempt again, newest first. An attempt asked for
can fail too (the web process may be down while the worker is up), so an event is asked
for again at a later look while its newest attempt still failed, a few times at most
(`may_ask` counts them). An event that arrives twice is harmless: the intake answers the
second one `200 duplicate`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)
WINDOW_SECONDS = 3 * 24 * 3600
# What the intake answers when the forge should send again; other 4xx would fail again.
_SEND_AGAIN = frozenset({0, 408, 429})


class HookDeliveries(Protocol):
    async def hook_deliveries(self, since: float) -> list[dict[str, Any]]: ...

    async def redeliver(self, delivery_id: int) -> None: ...


@dataclass(frozen=True)
class Redelivered:
    scanned: int
    lost: int  # events that never got a 2xx and may succeed if sent again
    asked: int


def _lost(status_code: int) -> bool:
    return status_code in _SEND_AGAIN or status_code >= 500


async def redeliver_lost(
    app: HookDeliveries,
    may_ask: Callable[[str], Awaitable[bool]],
    now: float | None = None,
    forge: str = "the forge",
) -> Redelivered:
    deliveries = await app.hook_deliveries((now or time.time()) - WINDOW_SECONDS)
    arrived = {d["guid"] for d in deliveries if 200 <= int(d["status_code"]) < 300}
    newest: dict[str, dict[str, Any]] = {}
    for delivery in deliveries:  # newest first: the first one of a guid is its newest
        if delivery["guid"] not in arrived:
            newest.setdefault(delivery["guid"], delivery)
    lost = [d for d in newest.values() if _lost(int(d["status_code"]))]
    asked = 0
    for delivery in lost:
        if await may_ask(delivery["guid"]):
            await app.redeliver(int(delivery["id"]))
            asked += 1
    if asked:
        log.warning(
            "asked %s to send again %d webhook deliveries that did not reach AgentOps",
            forge,
            asked,
        )
    return Redelivered(len(deliveries), len(lost), asked)
