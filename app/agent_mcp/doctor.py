"""`agentops doctor`'s lines on the operator's MCP servers: does each start (or answer),
and does it offer every tool its allow-list names? A stdio server starts only confined
(confinement.py), and its line says what holds it as a whole on this host (guards.py);
where bubblewrap is missing or cannot work, its line says so."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from app.agent_mcp.guards import guards_said
from app.agent_mcp.servers import McpServer
from app.agent_mcp.toolset import open_toolset


async def check_mcp_server(name: str, server: McpServer) -> tuple[bool, str]:
    """(usable, one line): started and every allow-listed tool offered, or why not."""
    async with open_toolset({name: server}) as tools:
        if tools.notices:
            return False, "; ".join(tools.notices)
        offers = "offers " + ", ".join(spec.name for spec in tools.specs)
        if server.command is not None:
            shared = "shares the worker's network" if server.network else "has no network"
            offers += f" (confined by bubblewrap with {guards_said()}; it {shared})"
        return True, offers


async def check_mcp_servers(servers: Mapping[str, McpServer]) -> list[tuple[str, bool, str]]:
    """One (name, usable, line) per server, all checked at once."""
    names = list(servers)
    results = await asyncio.gather(*(check_mcp_server(n, servers[n]) for n in names))
    return [(name, ok, line) for name, (ok, line) in zip(names, results, strict=True)]
