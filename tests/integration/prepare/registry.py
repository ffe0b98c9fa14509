"""A registry on loopback for the egress proxy's tests: serves fixed bytes per path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def http_registry(files: dict[str, bytes]) -> AsyncIterator[tuple[int, list[str]]]:
    """(port, the request lines it got) of an HTTP/1.1 server on 127.0.0.1."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode()
        seen.append(line)
        path = line.split(" ")[1]
        found = files.get(path)
        status = "200 OK" if found is not None else "404 Not Found"
        body = found if found is not None else b"not here\n"
        answer = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(answer.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, seen
    finally:
        server.close()
        await server.wait_closed()
