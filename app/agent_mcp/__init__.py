"""The operator's MCP servers as tools of the agent (issue 17 §2): their settings, the
client that starts or calls them for a run, and their tools in the tool loop.

Not to be confused with `app/mcp/` (AgentOps itself as an MCP server).
"""
