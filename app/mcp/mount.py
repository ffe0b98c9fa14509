"""`/mcp` in the web process, with the SDK imported only when a token opens it: importing
it made every web process start slower (`import app.web` 2.2 → 4.9 s, best of five at load
average 5), which a service without `/mcp` need not pay."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.config import Settings
from app.mcp.gate import BearerGate
from app.mcp.tokens import endpoint_on

if TYPE_CHECKING:
    from app.runpage.hub import RunEventHub
    from app.web_service import Service

PATH = "/mcp"


class MCPMount(Protocol):
    route: Route

    def running(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class ClosedMCP:
    """No token is configured: the gate answers 403 to every request."""

    def __init__(self, settings: Settings) -> None:
        never = PlainTextResponse("not reached\n", status_code=500)
        self.route = Route(PATH, BearerGate(never, settings), methods=["GET", "POST", "DELETE"])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield


def mcp_mount(settings: Settings, service: Service, hub: RunEventHub) -> MCPMount:
    if not endpoint_on(settings):
        return ClosedMCP(settings)
    from app.mcp.http import MountedMCP

    return MountedMCP(settings, service, hub)
