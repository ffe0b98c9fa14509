"""The bearer check in front of `/mcp`: never open. A request without a known token gets a
401 (403 while no token is configured at all) and never reaches the MCP session."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.mcp.tokens import Principal, endpoint_on, principal_of

PRINCIPAL_KEY = "agentops.mcp_principal"


class BearerGate:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not endpoint_on(self.settings):
            text = "/mcp is off: set AGENTOPS_ADMIN_TOKEN or AGENTOPS_MCP_TOKENS to turn it on\n"
            await PlainTextResponse(text, status_code=403)(scope, receive, send)
            return
        principal = principal_of(Headers(scope=scope).get("authorization", ""), self.settings)
        if principal is None:
            text = (
                "unauthorized: send Authorization: Bearer <token> (AGENTOPS_ADMIN_TOKEN or "
                "your own token of AGENTOPS_MCP_TOKENS)\n"
            )
            response = PlainTextResponse(text, status_code=401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="mcp"'
            await response(scope, receive, send)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def principal_in(scope: Scope) -> Principal | None:
    found = scope.get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else None
