"""An MCP server that floods: how much memory the worker holds, and how long a call and
the server's stop take, for a few call timeouts (`tests/fixtures/mcp/flooding_server.py`
answers a call with output that never ends, on the protocol's channel).

    PYTHONPATH=. .venv/bin/python bench/mcp_flood.py [--timeouts 2,5,10]

Each timeout runs in a fresh process (peak RSS is per process); prints one line each.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

FLOODING = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mcp" / "flooding_server.py"


async def one(call_seconds: float) -> str:
    from app.agent_mcp.servers import McpServer
    from app.agent_mcp.toolset import open_toolset

    server = McpServer.model_validate(
        {
            "command": [sys.executable, str(FLOODING)],
            "tools": ["endless"],
            "repos": ["*"],
            "timeout_seconds": call_seconds,
        }
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    async with open_toolset({"flood": server}) as tools:
        started = time.monotonic()
        result = await tools.call("flood.endless", {})
        called = time.monotonic() - started
        started = time.monotonic()
    stopped = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    assert result.is_error
    return (
        f"timeout {call_seconds:g} s: call {called:.2f} s, close {stopped:.2f} s, "
        f"peak RSS {peak} MB (before the call {before} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeouts", default="2,5,10")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(asyncio.run(one(args.one)))
        return
    for timeout in args.timeouts.split(","):
        done = subprocess.run(
            [sys.executable, __file__, "--one", timeout], capture_output=True, text=True, check=True
        )
        print(done.stdout.strip())


if __name__ == "__main__":
    main()
