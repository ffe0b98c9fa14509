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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the settings import this module; starlette stays in the web process
    from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# a host name or an IP literal, with an optional port: nothing a header could smuggle
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")
_SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`127.0.0.1`, `10.0.0.0/8`, `::1`, or `*` for every address; none (an empty setting)
    trusts no proxy. A ValueError names a bad entry."""
    networks: list[Network] = []
    for entry in entries:
        if not entry.strip():
            continue
        if entry.strip() == "*":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address (an IPv4 one seen through a dual-stack socket as itself), else None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None  # a Unix socket's peer, a name, `unknown`, an address with a port
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _last(value: bytes) -> str:
    """The value the nearest proxy added: the last of a comma-separated list."""
    return value.decode("latin-1").split(",")[-1].strip()


class ForwardedHeaders:
    """Rewrites a request's scheme, `Host` and client from a trusted proxy's headers."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    def _trusts(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.trusted)

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
            scheme = _SCHEMES[scope["type"]].get(_last(proto).lower())
            if scheme is not None:
                scope["scheme"] = scheme
        if (host := given.get(b"x-forwarded-host")) is not None and _HOST.fullmatch(_last(host)):
            headers = [(k, v) for k, v in headers if k != b"host"]
            headers.append((b"host", _last(host).encode("latin-1")))
            scope["headers"] = headers
        if (chain := given.get(b"x-forwarded-for")) is not None:
            # the nearest address that is not one of our proxies is the client; a hop that
            # is not an address ends the walk, and the peer stays what it is
            hops = [hop.strip() for hop in chain.decode("latin-1").split(",")]
            for hop in reversed(hops):
                address = _address(hop)
                if address is None:
                    break
                if not self._trusts(hop):
                    scope["client"] = (str(address), 0)
                    break
        return scope
