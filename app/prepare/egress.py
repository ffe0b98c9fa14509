"""The egress proxy: the prepare phase's only way out of the sandbox.

The sandbox has a network namespace with nothing but its own loopback. For the prepare
phase the worker starts this proxy on a Unix socket in a directory bound into the
sandbox; inside, a forwarder (socat, app/sandbox/network.py) listens on 127.0.0.1:3128
and carries each connection to that socket, and HTTP(S)_PROXY point at it. The proxy
speaks HTTP/1.1 proxy requests:

- `CONNECT host:port` (TLS to a registry): admitted when host and port are allowed,
  then bytes are piped both ways (the proxy never sees inside the TLS);
- `GET http://host:port/path` and the other methods in absolute form (a registry served
  over plain HTTP, e.g. a company mirror): forwarded with `Connection: close`.

Everything else is refused with a 403 that says why, and logged. A name is allowed by an
exact `host` or `host:port` entry or a `*.domain` entry; without a port, 443 and 80 are.
The proxy resolves names itself, so the sandbox needs no DNS; an address on loopback,
link-local (cloud metadata) or unspecified is refused even for an allowed name, unless
the operator maps that name to an address explicitly (`resolve`).

What the proxy admits are hosts, not requests: a package's install script may still
talk to an allowed registry in any way that registry accepts. It cannot reach the
host's services, the LAN, metadata endpoints or any other server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.sandbox.network import SOCKET_NAME

log = logging.getLogger(__name__)

HEAD_LIMIT = 16 * 1024
HEAD_SECONDS = 30.0
CONNECT_SECONDS = 20.0
IDLE_SECONDS = 300.0

DEFAULT_REGISTRIES = (
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "repo.packagist.org",
    "packagist.org",
    "api.github.com",  # Packagist's package downloads (zipballs) ...
    "codeload.github.com",  # ... are served from here
    "proxy.golang.org",
    "sum.golang.org",
)


class EgressConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Allowed:
    host: str  # lower case; "*.example.com" for any subdomain
    port: int | None  # None: 443 and 80

    def admits(self, host: str, port: int) -> bool:
        if self.port is None and port not in (443, 80):
            return False
        if self.port is not None and port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and host != self.host[2:]
        return host == self.host


def _host_port(text: str) -> tuple[str, int | None]:
    text = text.strip().lower()
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, None


def parse_allowed(entries: Sequence[str]) -> tuple[Allowed, ...]:
    allowed = []
    for entry in entries:
        if not entry.strip():
            continue
        host, port = _host_port(entry)
        if not host or any(c in host for c in "/@ ") or (port is not None and not 0 < port < 65536):
            raise EgressConfigError(f"not a registry host or host:port: {entry!r}")
        allowed.append(Allowed(host, port))
    return tuple(allowed)


def parse_resolve(entries: Sequence[str]) -> dict[tuple[str, int], tuple[str, int]]:
    """`name:port=address:port` entries (like curl's --resolve)."""
    mapping = {}
    for entry in entries:
        if not entry.strip():
            continue
        name, sep, target = entry.partition("=")
        host, port = _host_port(name)
        address, target_port = _host_port(target)
        if not sep or port is None or target_port is None or not address:
            raise EgressConfigError(f"not name:port=address:port: {entry!r}")
        mapping[(host, port)] = (address, target_port)
    return mapping


@dataclass(frozen=True)
class EgressRules:
    allowed: tuple[Allowed, ...]
    resolve: Mapping[tuple[str, int], tuple[str, int]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, registries: Sequence[str], resolve: Sequence[str]) -> EgressRules:
        return cls(parse_allowed(registries), parse_resolve(resolve))

    def admits(self, host: str, port: int) -> bool:
        return any(a.admits(host, port) for a in self.allowed)


@dataclass
class Connection:
    host: str
    port: int
    admitted: bool
    reason: str = ""  # why it was refused
    bytes_in: int = 0  # from the registry to the sandbox


@dataclass
class EgressLog:
    """What one prepare phase asked for: for its check-run line and the worker's log."""

    connections: list[Connection] = field(default_factory=list)

    @property
    def refused(self) -> list[Connection]:
        return [c for c in self.connections if not c.admitted]

    def hosts(self) -> list[str]:
        return list(dict.fromkeys(f"{c.host}:{c.port}" for c in self.connections if c.admitted))

    def bytes_in(self) -> int:
        return sum(c.bytes_in for c in self.connections)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_BLOCKED_NETS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("0.0.0.0/8"),
)


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_unspecified
        or ip.is_multicast
        or any(ip in net for net in _BLOCKED_NETS if net.version == ip.version)
    )


class EgressProxy:
    """One prepare phase's proxy on a Unix socket; `log` records every connection."""

    def __init__(self, rules: EgressRules, label: str = "") -> None:
        self.rules = rules
        self.label = label
        self.log = EgressLog()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, directory: Path) -> Path:
        """Listen on `directory`/proxy.sock, reachable by any uid (the sandbox's)."""
        path = directory / SOCKET_NAME
        self._server = await asyncio.start_unix_server(self._serve, path=str(path))
        os.chmod(path, 0o666)  # noqa: S103 - the sandbox uid must connect; the dir is private
        return path

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_SECONDS)
        except asyncio.LimitOverrunError:
            await _answer(writer, 431, "request head too large")
            return
        if len(head) > HEAD_LIMIT:
            await _answer(writer, 431, "request head too large")
            return
        try:
            method, host, port, forwarded = _parse_head(head)
            upstream = await self._open(host, port)
        except Refused as refused:
            await _answer(writer, refused.status, refused.reason)
            return
        up_reader, up_writer = upstream
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            up_writer.write(forwarded)
            await up_writer.drain()
        started = time.monotonic()
        record = Connection(host, port, True)
        self.log.connections.append(record)
        try:
            await _pipe_both(reader, writer, up_reader, up_writer, record)
        finally:
            log.info(
                "egress %s: %s %s:%d, %d bytes in %.1f s",
                self.label,
                method,
                host,
                port,
                record.bytes_in,
                time.monotonic() - started,
            )

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not self.rules.admits(host, port):
            self._refuse(host, port, "not an allowed registry")
        target = self.rules.resolve.get((host, port))
        try:
            if target is None:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
                addresses = [str(info[4][0]) for info in infos]
                if not addresses or any(_blocked(a) for a in addresses):
                    self._refuse(host, port, "resolves to a loopback or link-local address")
                target = (addresses[0], port)
            return await asyncio.wait_for(asyncio.open_connection(*target), CONNECT_SECONDS)
        except Refused:
            raise
        except (OSError, TimeoutError) as exc:
            self.log.connections.append(Connection(host, port, False, f"unreachable: {exc}"))
            raise Refused(502, f"agentops egress: {host}:{port} is unreachable") from None

    def _refuse(self, host: str, port: int, why: str) -> None:
        self.log.connections.append(Connection(host, port, False, why))
        log.warning("egress %s: refused %s:%d (%s)", self.label, host, port, why)
        raise Refused(403, f"agentops egress: {host}:{port} refused: {why}")


def _parse_head(head: bytes) -> tuple[str, str, int, bytes]:
    """(method, host, port, the request to send upstream) of a proxy request head."""
    try:
        text = head.decode("latin-1")
        request_line, _, rest = text.partition("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise Refused(400, "agentops egress: not an HTTP proxy request") from None
    if not version.startswith("HTTP/1."):
        raise Refused(400, "agentops egress: HTTP/1.x only")
    if method == "CONNECT":
        host, port = _host_port(target)
        if port is None:
            raise Refused(400, "agentops egress: CONNECT needs host:port")
        return method, host, port, b""
    if not target.lower().startswith("http://"):
        raise Refused(400, "agentops egress: a proxy request needs an absolute http:// URL")
    authority, slash, path = target[7:].partition("/")
    authority = authority.rpartition("@")[2]  # never forward credentials in the URL's userinfo
    host, port = _host_port(authority)
    headers = [
        line
        for line in rest.split("\r\n")
        if line
        and line.split(":", 1)[0].strip().lower()
        not in ("connection", "proxy-connection", "keep-alive", "proxy-authorization")
    ]
    forwarded = "\r\n".join(
        [f"{method} {slash}{path} {version}", *headers, "Connection: close", "", ""]
    )
    return method, host, port or 80, forwarded.encode("latin-1")


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    titles = {400: "Bad Request", 403: "Forbidden", 431: "Too Large", 502: "Bad Gateway"}
    body = (reason + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {titles.get(status, 'Error')}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    record: Connection,
) -> None:
    """Copy both ways until both ends are done, counting what came from upstream."""

    async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
        try:
            while chunk := await asyncio.wait_for(src.read(65536), IDLE_SECONDS):
                if count:
                    record.bytes_in += len(chunk)
                dst.write(chunk)
                await dst.drain()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if dst.can_write_eof():
                    dst.write_eof()

    try:
        await asyncio.gather(copy(reader, up_writer, False), copy(up_reader, writer, True))
    finally:
        up_writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await up_writer.wait_closed()
