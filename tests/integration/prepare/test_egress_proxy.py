"""The egress proxy over real sockets: what it admits, what it refuses, what it logs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.prepare.egress import EgressProxy, EgressRules
from tests.integration.prepare.registry import http_registry


async def ask(socket_path: Path, request: str) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    writer.write(request.encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


async def test_admits_only_allowed_registries_and_logs_every_refusal(tmp_path: Path) -> None:
    async with http_registry({"/simple/six/": b"six index"}) as (port, seen):
        rules = EgressRules.from_settings(
            ["registry.test:8080", "localhost", "*.example.org"],
            [f"registry.test:8080=127.0.0.1:{port}"],
        )
        proxy = EgressProxy(rules, "test")
        sock = await proxy.start(tmp_path)
        try:
            ok = await ask(
                sock,
                "GET http://user:pw@registry.test:8080/simple/six/ HTTP/1.1\r\n"
                "Host: registry.test:8080\r\nProxy-Authorization: x\r\n\r\n",
            )
            other_host = await ask(sock, "GET http://evil.test/x HTTP/1.1\r\nHost: e\r\n\r\n")
            redis = await ask(sock, "CONNECT 127.0.0.1:6379 HTTP/1.1\r\n\r\n")
            # allowed by name, but it resolves to loopback: still refused
            loopback = await ask(sock, "CONNECT localhost:443 HTTP/1.1\r\n\r\n")
            wrong_port = await ask(sock, "CONNECT registry.test:22 HTTP/1.1\r\n\r\n")
            apex = await ask(sock, "CONNECT example.org:443 HTTP/1.1\r\n\r\n")
            garbage = await ask(sock, "HELLO\r\n\r\n")
        finally:
            await proxy.close()
    assert ok.startswith(b"HTTP/1.1 200") and ok.endswith(b"six index"), ok
    assert seen == ["GET /simple/six/ HTTP/1.1"]  # origin form; no credentials went on
    for refused in (other_host, redis, loopback, wrong_port, apex):
        assert refused.startswith(b"HTTP/1.1 403"), refused
    assert b"evil.test:80 refused: not an allowed registry" in other_host
    assert b"resolves to a loopback or link-local address" in loopback
    assert garbage.startswith(b"HTTP/1.1 400")
    log = proxy.log
    assert log.hosts() == ["registry.test:8080"]
    assert [f"{c.host}:{c.port}" for c in log.refused] == [
        "evil.test:80",
        "127.0.0.1:6379",
        "localhost:443",
        "registry.test:22",
        "example.org:443",
    ]
    assert log.bytes_in() > len(b"six index")


async def test_connect_tunnels_bytes_both_ways(tmp_path: Path) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.readexactly(5))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = EgressProxy(
        EgressRules.from_settings(["tls.test:443"], [f"tls.test:443=127.0.0.1:{port}"])
    )
    sock = await proxy.start(tmp_path)
    try:
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"CONNECT tls.test:443 HTTP/1.1\r\nHost: tls.test:443\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.read(), 10) == b"echo:hello"
        writer.close()
    finally:
        await proxy.close()
        server.close()
    assert proxy.log.hosts() == ["tls.test:443"]
