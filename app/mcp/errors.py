"""The one error a tool raises for bad input: the client sees a tool error with the reason."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError


class ToolRefusal(ToolError):
    """Bad input (an unknown repository or run, a path outside the repository, a missing
    right): the reason, never a byte of a file, goes back as the tool's error."""
