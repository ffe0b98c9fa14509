"""Tool names in the form the providers accept, and back.

Anthropic, OpenAI and Mistral take tool names of letters, digits, `_` and `-` only
(`^[a-zA-Z0-9_-]{1,64}$`). The tools of an operator's MCP server are named
`server.tool` (app/agent_mcp); on the wire the dot is `__`. A server's name has no `_`
(app/agent_mcp/servers.py), so the first `__` of a wire name is always that dot, and the
way back needs no state: a conversation moves between providers as it is.
"""

from __future__ import annotations

import re

WIRE_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NAMESPACED_WIRE = re.compile(r"([a-z0-9][a-z0-9-]*)__([a-zA-Z0-9_-]+)")


def wire_tool_name(name: str) -> str:
    """`name` as sent to a provider: `docs.lookup` → `docs__lookup`; others unchanged."""
    server, dot, tool = name.partition(".")
    return f"{server}__{tool}" if dot else name


def tool_name_from_wire(wire: str) -> str:
    """The tool a provider's answer names: `docs__lookup` → `docs.lookup`."""
    found = _NAMESPACED_WIRE.fullmatch(wire)
    return f"{found.group(1)}.{found.group(2)}" if found else wire
