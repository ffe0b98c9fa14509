"""Headers on every answer of the web process."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# On every answer; a page that needs more (the set-up form) sets its own policy.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# A page whose forms post to this service (Cancel, Retry, Sign out): under `no-referrer` a
# browser sends `Origin: null` with such a POST, which the CSRF check (app/signin/csrf.py)
# rightly refuses; `same-origin` sends the real Origin to this service and still nothing,
# neither referrer nor origin, to any other site.
SAME_ORIGIN_FORMS_REFERRER_POLICY = "same-origin"


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` that a response did not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
