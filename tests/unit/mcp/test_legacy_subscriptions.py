"""`resources/subscribe` of older clients (app/mcp/legacy_subscriptions.py): a
subscription is held by the client's connection until it unsubscribes, its connection
closes or its run ends; nothing is held for a run that has already ended. With the SDK's
own `Connection`, session proxies and bus; the outbound channel records what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import anyio
import pytest
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import SubscribeRequestParams, UnsubscribeRequestParams

from app.mcp.gate import PRINCIPAL_KEY
from app.mcp.legacy_subscriptions import LegacySubscriptions
from app.mcp.run_resources import RunResources, diff_uri, log_uri
from app.mcp.tokens import ADMIN
from app.runpage.hub import RunEventHub, Subscription
from app.store.run_events import RunEvent
from app.store.runs import Run
from app.web_service import Service

RUNNING, ENDED = "agentops://runs/1/log", "agentops://runs/2/log"


@dataclass
class Recorder:
    sent: list[tuple[str, Any]] = field(default_factory=list)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: Any = None) -> None:
        self.sent.append((method, dict(params or {}).get("uri")))


@dataclass
class Request:
    scope: dict[str, Any]


class Client:
    """One client connection; each request gets a session proxy of its own, as in the SDK."""

    def __init__(self) -> None:
        self.outbound = Recorder()
        self.connection = Connection(cast(Any, self.outbound), protocol_version="2025-06-18")

    def ctx(self) -> ServerRequestContext[Any, Any]:
        session = ServerSession(cast(Any, self.outbound), self.connection)
        return ServerRequestContext(
            session=session,
            lifespan_context=None,
            protocol_version="2025-06-18",
            method="resources/subscribe",
            request=Request({PRINCIPAL_KEY: ADMIN}),
        )

    def heard(self) -> list[str]:
        return [uri for _method, uri in self.outbound.sent]


async def watch(uri: str) -> bool:
    return uri != ENDED  # run 2 has ended


async def settle() -> None:
    for _ in range(5):
        await anyio.sleep(0)


@pytest.fixture
def subs() -> tuple[LegacySubscriptions, InMemorySubscriptionBus]:
    bus = InMemorySubscriptionBus()
    return LegacySubscriptions(bus, watch), bus


async def subscribe(subs: LegacySubscriptions, client: Client, uri: str) -> None:
    await subs._subscribe(client.ctx(), SubscribeRequestParams(uri=uri))


async def test_updates_reach_the_subscribers_until_the_run_ends(
    subs: tuple[LegacySubscriptions, InMemorySubscriptionBus],
) -> None:
    legacy, bus = subs
    alice, bob = Client(), Client()
    await subscribe(legacy, alice, RUNNING)
    await subscribe(legacy, bob, RUNNING)
    await subscribe(legacy, alice, ENDED)  # ended: nothing held for it
    assert legacy.held() == 2
    await bus.publish(ResourceUpdated(uri=RUNNING))
    await settle()
    assert alice.heard() == bob.heard() == [RUNNING]

    legacy.forget([RUNNING])  # its watcher stopped: the run ended
    assert legacy.held() == 0
    await bus.publish(ResourceUpdated(uri=RUNNING))
    await settle()
    assert alice.heard() == [RUNNING]


async def test_a_closed_connection_is_dropped_and_an_unsubscribe_is_kept(
    subs: tuple[LegacySubscriptions, InMemorySubscriptionBus],
) -> None:
    legacy, bus = subs
    alice, bob = Client(), Client()
    await subscribe(legacy, alice, RUNNING)
    await subscribe(legacy, alice, "agentops://runs/1/diff")
    await subscribe(legacy, bob, RUNNING)
    assert legacy.held() == 3

    await alice.connection.exit_stack.aclose()  # as the SDK does when the session ends
    assert legacy.held() == 1
    # bob unsubscribes in a request of its own (another session proxy, the same connection)
    await legacy._unsubscribe(bob.ctx(), UnsubscribeRequestParams(uri=RUNNING))
    assert legacy.held() == 0
    await bus.publish(ResourceUpdated(uri=RUNNING))
    await settle()
    assert alice.heard() == bob.heard() == []


class EndingHub:
    """A run event hub whose run records one event, then ends."""

    @asynccontextmanager
    async def subscribe(self, run_id: int, tenant_id: int) -> AsyncIterator[Subscription]:
        sub = Subscription(run_id)
        sub.offer(cast(RunEvent, SimpleNamespace(kind="step_started")))
        sub.offer(cast(RunEvent, SimpleNamespace(kind="run_ended")))
        yield sub


async def test_the_subscribers_of_a_run_are_dropped_when_its_watcher_stops() -> None:
    resources = RunResources(cast(Service, None), cast(RunEventHub, EndingHub()))
    legacy = LegacySubscriptions(resources.bus, watch)
    resources.when_unwatched(lambda run_id: legacy.forget([log_uri(run_id), diff_uri(run_id)]))
    alice = Client()
    await subscribe(legacy, alice, RUNNING)
    await subscribe(legacy, alice, "agentops://runs/1/diff")
    assert legacy.held() == 2
    resources._watch(cast(Run, SimpleNamespace(id=1, tenant_id=7)))
    with anyio.fail_after(5):
        while legacy.held():
            await anyio.sleep(0.01)
    assert alice.heard().count(RUNNING) == 2  # both events were sent before it ended
    await resources.close()
