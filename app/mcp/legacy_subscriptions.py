"""`resources/subscribe` for clients of protocols before 2026-07-28 (most desktop clients
today): the update events of the run resources' bus, sent to each session that
subscribed to the URI (on its standing stream)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated, ServerEvent
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from app.mcp.gate import principal_in

log = logging.getLogger(__name__)
MAX_SUBSCRIPTIONS = 10_000  # (session, uri) pairs held by this process

Watch = Callable[[str], Awaitable[None]]  # starts following what the URI names


class LegacySubscriptions:
    def __init__(self, bus: InMemorySubscriptionBus, watch: Watch) -> None:
        self._watch = watch
        self._sessions: dict[str, set[ServerSession]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        bus.subscribe(self._heard)

    def install(self, server: MCPServer) -> None:
        # MCPServer has no public hook for these two (they left the protocol in 2026-07-28)
        lowlevel = server._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        if principal_in(getattr(ctx.request, "scope", {})) is None:
            raise MCPError(code=-32600, message="no bearer token")
        uri = str(params.uri)
        if sum(len(s) for s in self._sessions.values()) >= MAX_SUBSCRIPTIONS:
            raise MCPError(code=-32603, message="too many subscriptions here: try later")
        await self._watch(uri)
        self._sessions.setdefault(uri, set()).add(ctx.session)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._drop(ctx.session, str(params.uri))
        return EmptyResult()

    def _drop(self, session: ServerSession, uri: str) -> None:
        sessions = self._sessions.get(uri)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._sessions[uri]

    def _heard(self, event: ServerEvent) -> None:
        if not isinstance(event, ResourceUpdated):
            return
        for session in list(self._sessions.get(event.uri, ())):
            task = asyncio.create_task(self._send(session, event.uri))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, session: ServerSession, uri: str) -> None:
        try:
            await session.send_resource_updated(uri)
        except Exception:  # the session is gone: forget it
            log.debug("a subscriber of %s left", uri, exc_info=True)
            self._drop(session, uri)
