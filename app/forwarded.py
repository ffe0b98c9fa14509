"""`X-Forwarded-Proto`, `-Host` and `-For`, believed only from the operator's own proxies.

Behind a reverse proxy the address this service was opened at (the set-up page builds the
GitHub App's webhook and redirect URLs from it) is the proxy's view: its scheme, host and
the client it serves. Anyone else could send these headers too, so they count only when
the connection comes from an address in `AGENTOPS_TRUSTED_PROXIES`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# a host name or an IP literal, with an optional port: nothing a header could smuggle
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")
_SCHEMES = {"http": "http", "https": "https", "ws": "ws", "wss": "wss"}


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`127.0.0.1`, `10.0.0.0/8`, `::1`, or `*` for every address; a ValueError names a
    bad entry."""
    networks: list[Network] = []
    for entry in entries:
        if entry.strip() == "*":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def _last(value: bytes) -> str:
    """The value the nearest proxy added: the last of a comma-separated list."""
    return value.decode("latin-1").split(",")[-1].strip()


class ForwardedHeaders:
    """Rewrites a request's scheme, `Host` and client from a trusted proxy's headers."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    def _trusts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a Unix socket's peer, or no peer at all
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self._trusts(client[0]):
            scope = self._rewritten(scope)
        await self.app(scope, receive, send)

    def _rewritten(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        given = dict(headers)
        scope = dict(scope)
        if (proto := given.get(b"x-forwarded-proto")) is not None:
            scheme = _SCHEMES.get(_last(proto).lower())
            if scheme is not None:
                if scope["type"] == "websocket":
                    scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
                scope["scheme"] = scheme
        if (host := given.get(b"x-forwarded-host")) is not None and _HOST.fullmatch(_last(host)):
            headers = [(k, v) for k, v in headers if k != b"host"]
            headers.append((b"host", _last(host).encode("latin-1")))
            scope["headers"] = headers
        if (chain := given.get(b"x-forwarded-for")) is not None:
            # the nearest address that is not one of our proxies is the client
            hops = [hop.strip() for hop in chain.decode("latin-1").split(",") if hop.strip()]
            for hop in reversed(hops):
                if not self._trusts(hop):
                    scope["client"] = (hop, 0)
                    break
        return scope
