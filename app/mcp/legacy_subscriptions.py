"""`resources/subscribe` for clients of protocols before 2026-07-28 (most desktop clients
today): the update events of the run resources' bus, sent to each client connection that
subscribed to the URI (on its standing stream).

A subscription is held by the client's connection (the SDK's `ServerSession` is a proxy
made anew for each request, so it cannot name a subscriber) and lasts until the client
unsubscribes, its connection closes (its `exit_stack` is unwound), or no more updates can
come for the URI: the run has ended (`forget`, called when its watcher stops) or had
ended when the client subscribed (nothing is held then)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated, ServerEvent
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from app.mcp.gate import principal_in

log = logging.getLogger(__name__)
MAX_SUBSCRIPTIONS = 10_000  # (connection, uri) pairs held by this process

# starts following what the URI names; False when no update will ever come (it has ended)
Watch = Callable[[str], Awaitable[bool]]


class LegacySubscriptions:
    def __init__(self, bus: InMemorySubscriptionBus, watch: Watch) -> None:
        self._watch = watch
        self._subscribers: dict[str, set[Connection]] = {}  # uri → its subscribers
        self._uris: dict[Connection, set[str]] = {}  # a subscriber → what it follows
        self._sending: set[asyncio.Task[None]] = set()
        bus.subscribe(self._heard)

    def install(self, server: MCPServer) -> None:
        # MCPServer has no public hook for these two (they left the protocol in 2026-07-28)
        lowlevel = server._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )

    def held(self) -> int:
        """The (connection, uri) pairs held."""
        return sum(len(uris) for uris in self._uris.values())

    def forget(self, uris: Iterable[str]) -> None:
        """No more updates will come for `uris`: drop their subscribers."""
        for uri in uris:
            for connection in list(self._subscribers.get(uri, ())):
                self._drop(connection, uri)

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        if principal_in(getattr(ctx.request, "scope", {})) is None:
            raise MCPError(code=-32600, message="no bearer token")
        uri = str(params.uri)
        if self.held() >= MAX_SUBSCRIPTIONS:
            raise MCPError(code=-32603, message="too many subscriptions here: try later")
        if not await self._watch(uri):
            return EmptyResult()  # it has ended: nothing to send, nothing to hold
        connection = _connection_of(ctx)
        if connection not in self._uris:
            self._uris[connection] = set()
            connection.exit_stack.callback(self._closed, connection)
        self._uris[connection].add(uri)
        self._subscribers.setdefault(uri, set()).add(connection)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._drop(_connection_of(ctx), str(params.uri))
        return EmptyResult()

    def _closed(self, connection: Connection) -> None:
        for uri in list(self._uris.get(connection, ())):
            self._drop(connection, uri)
        self._uris.pop(connection, None)

    def _drop(self, connection: Connection, uri: str) -> None:
        subscribers = self._subscribers.get(uri)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self._subscribers[uri]
        uris = self._uris.get(connection)
        if uris is not None:
            uris.discard(uri)  # the connection stays known: its close callback is set

    def _heard(self, event: ServerEvent) -> None:
        if not isinstance(event, ResourceUpdated):
            return
        for connection in list(self._subscribers.get(event.uri, ())):
            task = asyncio.create_task(self._send(connection, event.uri))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, connection: Connection, uri: str) -> None:
        try:
            await connection.send_resource_updated(uri)  # dropped by the SDK when closed
        except Exception:  # the connection is gone: forget it
            log.debug("a subscriber of %s left", uri, exc_info=True)
            self._drop(connection, uri)


def _connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection:
    """The client's connection behind the request's session proxy (the SDK exposes it to
    handlers only on its newer `Context`)."""
    return ctx.session._connection
