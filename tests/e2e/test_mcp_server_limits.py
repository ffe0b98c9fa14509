"""Attack: an operator's stdio MCP server, steered by a model (whose arguments an issue's
author can choose) or hostile itself, takes the worker's memory, fork-bombs it or fills
its disk (`tests/fixtures/mcp/greedy_server.py`). Started through the production path
(`open_toolset` → `connect` → bwrap → prlimit), each of its processes is held to the
server's limits: the allocation, the fork and the write fail inside the server, the
model reads the failure as the tool's error, the server's other tools still answer, and
the worker (this process) goes on as before; when the run ends, nothing of it is left."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.agent_mcp.servers import McpServer
from app.agent_mcp.toolset import McpToolset, open_toolset

pytestmark = pytest.mark.e2e
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mcp" / "greedy_server.py"
GREEDY = McpServer.model_validate(
    {
        "command": [sys.executable, str(FIXTURE)],
        "tools": ["hog", "hog_in_children", "burn", "spawn", "fill", "filled", "processes", "echo"],
        "repos": ["*"],
        "memory_mb": 256,
        "processes": 96,
        "file_mb": 8,
        "cpus": 0.5,
        "timeout_seconds": 60,
    }
)


LIMITS = (
    "(The MCP server 'greedy' runs within its limits: 256 MB of memory, 96 processes, "
    "files of 8 MB; past them an allocation, a new process or a write fails.)"
)


async def call(tools: McpToolset, tool: str, **arguments: object) -> tuple[bool, str]:
    result = await tools.call(f"greedy.{tool}", arguments)
    return result.is_error, result.text


def left_behind() -> list[int]:
    """Processes of the greedy server still running on the host."""
    found = []
    for name in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if name.isdigit() and str(FIXTURE).encode() in cmdline:
            found.append(int(name))
    return found


async def test_a_server_past_its_limits_fails_its_call_and_the_worker_goes_on() -> None:
    worker_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with open_toolset({"greedy": GREEDY}, {}) as tools:
        assert tools.notices == []
        failed, said = await call(tools, "hog", mb=16)  # within its limits: served
        assert not failed and fenced(said) == "holding 16 MB", said

        # memory: 4 GB asked, 256 MB a process allowed
        failed, said = await call(tools, "hog", mb=4096)
        assert failed, said
        assert said.endswith(LIMITS), said  # what the model reads of it (the SDK says no more)

        # a fork bomb: 2000 processes asked, 96 (threads included) allowed
        failed, said = await call(tools, "spawn", count=2000)
        assert failed, said
        assert said.endswith(LIMITS), said
        failed, seen = await call(tools, "processes")
        assert not failed, seen
        assert 48 < int(fenced(seen)) <= 96, seen  # it forked until the limit stopped it

        # a file without end: 64 MB asked, 8 MB allowed
        failed, said = await call(tools, "fill", mb=64)
        assert failed, said
        assert said.endswith(LIMITS), said
        failed, size = await call(tools, "filled")
        assert not failed and int(fenced(size)) == 8 * 1024 * 1024, size

        # the server itself still answers, and the worker still forks
        failed, said = await call(tools, "echo", text="still here")
        assert not failed and fenced(said) == "still here", said
        assert subprocess.run(["true"], check=False).returncode == 0
        assert left_behind()
    deadline = time.monotonic() + 10  # killed with its PID namespace: at once, not synchronously
    while left_behind() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert left_behind() == []  # its processes, the bomb's included, all stopped
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - worker_rss) / 1024
    assert grown_mb < 200, f"the worker grew by {grown_mb:.0f} MB"


async def test_the_processes_of_a_server_share_its_memory_and_cpu() -> None:
    """Under rlimits alone each process may take 256 MB: 96 of them, 24 GB. In the server's
    cgroup they take 256 MB together (the kernel kills past it) and half a core's worth of
    CPU, however many they are."""
    async with open_toolset({"greedy": GREEDY}, {}) as tools:
        failed, said = await call(tools, "hog_in_children", count=4, mb=150)
        assert not failed, said
        alive = int(fenced(said).split()[0])
        assert alive <= 1, said  # 150 MB fit in 256 beside the server; 300 do not

        failed, said = await call(tools, "burn", count=2, seconds=2.0)
        assert not failed, said
        assert float(fenced(said)) < 1.4, said  # 0.5 × 2 s, not 2 × 2 s

        failed, said = await call(tools, "echo", text="still here")
        assert not failed and fenced(said) == "still here", said


def fenced(text: str) -> str:
    return text.split("\n", 1)[1].rsplit("\n", 1)[0]  # inside the fence
