"""Starting or calling one of the operator's MCP servers with the `mcp` SDK: a session and
the tools it offers.

A stdio server is started from the operator's command, confined by bubblewrap
(confinement.py: it sees the host's toolchain and its own program, not the worker's
processes, files or checkouts, nor its network unless `network` says so), with only
the variables the operator named (the SDK adds `PATH`, `SHELL`, `TERM`, `USER`,
`LOGNAME`; `HOME` is its own empty directory, also its working directory), its standard
error discarded. The SDK stops it (and what it started) when the session closes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import PaginatedRequestParams

from app.agent_mcp.confinement import ServerLimits, confine, lease_server_uid
from app.agent_mcp.servers import McpServer

MAX_TOOL_PAGES = 10  # of `tools/list`: a server that pages forever is cut off


@dataclass(frozen=True)
class OfferedTool:
    """A tool as the server describes it."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class Connection:
    """A live session with one server, and the tools it offers."""

    session: ClientSession
    tools: list[OfferedTool]


@asynccontextmanager
async def connect(server: McpServer, environ: Mapping[str, str]) -> AsyncIterator[Connection]:
    """A session with `server`, initialised and its tools listed within its start timeout
    (`TimeoutError` past it; `ConfinementUnavailable` when a stdio server cannot be
    confined here; an `OSError` or the SDK's error when it cannot start)."""
    async with AsyncExitStack() as stack:
        if server.command is not None:
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="agentops-mcp-"))
            env = {"HOME": home, **server.resolved_env(environ)}
            search_path = env.get("PATH", os.environ.get("PATH", os.defpath))
            read_only = [Path(p) for p in server.read_only_paths]
            # released after the server's process has ended (the stack unwinds backwards)
            lease = await anyio.to_thread.run_sync(lease_server_uid)
            if lease is not None:
                stack.callback(lease.release)
            limits = limits_of(server)
            guards = await anyio.to_thread.run_sync(limits.guards)
            stack.callback(guards.release)
            confined = partial(
                confine,
                network=server.network,
                limits=limits,
                run_as=lease.uid if lease is not None else None,
                guards=guards,
            )
            argv = await anyio.to_thread.run_sync(
                confined,
                server.command,
                Path(home),
                search_path,
                read_only,
            )
            params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=home)
            # its standard error is not the worker's: a server may write anything there,
            # without end (`agentops doctor` says whether it starts)
            quiet = stack.enter_context(open(os.devnull, "w"))  # noqa: ASYNC230, SIM115
            read, write = await stack.enter_async_context(stdio_client(params, errlog=quiet))
        else:
            assert server.url is not None  # McpServer has one or the other
            client = httpx2.AsyncClient(
                headers=server.resolved_headers(environ),
                timeout=httpx2.Timeout(server.timeout_seconds),
                follow_redirects=False,
            )
            await stack.enter_async_context(client)
            read, write = await stack.enter_async_context(
                streamable_http_client(server.url, http_client=client)
            )
        session = await stack.enter_async_context(ClientSession(read, write))
        with anyio.fail_after(server.start_timeout_seconds):
            await session.initialize()
            tools = await _list_tools(session)
        yield Connection(session, tools)


def limits_of(server: McpServer) -> ServerLimits:
    return ServerLimits(server.memory_mb, server.processes, server.file_mb, server.cpus)


async def _list_tools(session: ClientSession) -> list[OfferedTool]:
    found: list[OfferedTool] = []
    cursor: str | None = None
    for _page in range(MAX_TOOL_PAGES):
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        listed = await session.list_tools(params=params)
        found.extend(
            OfferedTool(t.name, t.description or "", dict(t.input_schema)) for t in listed.tools
        )
        cursor = listed.next_cursor
        if not cursor:
            break
    return found
