"""`X-Forwarded-*` count only from the operator's proxies, and only as well-formed values."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.config import Settings
from app.forwarded import ForwardedHeaders, trusted_networks


async def receive() -> Message:
    raise AssertionError("nothing here reads a body")


async def send(message: Message) -> None:
    raise AssertionError("nothing here answers")


async def seen(peer: str, headers: dict[str, str], trusted: str = "127.0.0.1,::1") -> Scope:
    """The scope the app behind the middleware gets for a request from `peer`."""
    got: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append(scope)

    middleware = ForwardedHeaders(app, trusted_networks(trusted.split(",")))
    scope: Scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(b"host", b"10.0.0.5:8000")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await middleware(scope, receive, send)
    return got[0]


def host(scope: Scope) -> str:
    headers: dict[bytes, bytes] = dict(scope["headers"])
    return headers[b"host"].decode()


PROXIED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "agentops.example.com",
    "X-Forwarded-For": "198.51.100.7",
}


async def test_a_trusted_proxy_gives_the_scheme_host_and_client() -> None:
    scope = await seen("127.0.0.1", PROXIED)
    assert (scope["scheme"], host(scope), scope["client"][0]) == (
        "https",
        "agentops.example.com",
        "198.51.100.7",
    )


async def test_anyone_else_sending_them_changes_nothing() -> None:
    scope = await seen("203.0.113.9", PROXIED)
    assert (scope["scheme"], host(scope), scope["client"][0]) == (
        "http",
        "10.0.0.5:8000",
        "203.0.113.9",
    )


async def test_networks_and_the_nearest_untrusted_hop() -> None:
    chain = {"X-Forwarded-For": "1.2.3.4, 198.51.100.7, 10.1.0.3"}
    scope = await seen("10.1.0.2", chain, trusted="10.1.0.0/16")
    assert scope["client"][0] == "198.51.100.7"  # 1.2.3.4 is what the client claimed


@pytest.mark.parametrize(
    "value", ["evil.example/path", "a b", "evil.example@x", "", "x" * 300, "h:99999999"]
)
async def test_a_malformed_host_is_ignored(value: str) -> None:
    assert host(await seen("127.0.0.1", {"X-Forwarded-Host": value})) == "10.0.0.5:8000"


async def test_an_unknown_scheme_is_ignored() -> None:
    assert (await seen("127.0.0.1", {"X-Forwarded-Proto": "javascript"}))["scheme"] == "http"


def test_a_bad_trusted_proxies_setting_names_the_entry() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address or network"):
        Settings(trusted_proxies="127.0.0.1,10.0.0.300")


async def test_an_empty_setting_trusts_no_proxy() -> None:
    assert Settings(trusted_proxies="").proxy_networks == ()
    scope = await seen("127.0.0.1", PROXIED, trusted="")
    assert (scope["scheme"], host(scope)) == ("http", "10.0.0.5:8000")


async def test_a_hop_that_is_not_an_address_leaves_the_peer() -> None:
    for chain in ("unknown", "198.51.100.7:5678", "<script>"):
        scope = await seen("127.0.0.1", {"X-Forwarded-For": chain})
        assert scope["client"][0] == "127.0.0.1", chain


async def test_an_ipv4_peer_seen_through_a_dual_stack_socket_is_itself() -> None:
    scope = await seen("::ffff:10.1.0.2", PROXIED, trusted="10.1.0.0/16")
    assert (scope["scheme"], host(scope)) == ("https", "agentops.example.com")


async def test_a_websocket_scheme_is_not_an_http_requests() -> None:
    assert (await seen("127.0.0.1", {"X-Forwarded-Proto": "wss"}))["scheme"] == "http"
