"""AgentOps as an MCP server (issue 17 §1): the code-map tools over stdio
(`agentops mcp --repo PATH`, app/mcp/stdio.py) and the run tools and resources over
streamable HTTP at `/mcp` in the web process (app/mcp/http.py), behind a bearer token."""
