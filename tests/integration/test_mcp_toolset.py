"""The operator's MCP servers through the real SDK and real server processes (the fixture
`tests/fixtures/mcp/docs_lookup.py`, over stdio and streamable HTTP): only allow-listed
tools, named `server.tool`; answers redacted, cut and fenced; a slow, flooding, dead or
absent server is a tool error or a notice, never a hang or the run's failure."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.agent_mcp.doctor import check_mcp_servers
from app.agent_mcp.servers import McpServer
from app.agent_mcp.toolset import open_toolset
from app.edits import EditPolicy
from app.workflow.tools import Toolbox

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mcp" / "docs_lookup.py"
TOKEN = "docs-token-Zq8vW3kP0aLm"
ENVIRON = {"AGENTOPS_MCP_SECRET_DOCS": TOKEN, "PATH": "/usr/bin:/bin"}
ALLOWED = ["lookup", "environment", "leak_token", "slow", "flood", "where", "crash"]  # no `endless`


def stdio_docs(tag: str = "", **limits: object) -> McpServer:
    """The fixture server; `tag` (an argument it ignores) finds its process."""
    return McpServer.model_validate(
        {
            "command": [sys.executable, str(FIXTURE), *(["--tag", tag] if tag else [])],
            "env": {"DOCS_TOKEN": "{secret:DOCS}"},
            "tools": ALLOWED,
            "repos": ["*"],
            "timeout_seconds": 5,
            **limits,
        }
    )


async def test_allow_listed_tools_are_offered_as_server_dot_tool(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTOPS_GITHUB_WEBHOOK_SECRET", "the-worker-s-own-secret-1234")
    async with open_toolset({"docs": stdio_docs()}, ENVIRON) as tools:
        assert [s.name for s in tools.specs] == [f"docs.{t}" for t in ALLOWED]
        assert tools.notices == []
        lookup = tools.specs[0]
        assert "house style guide" in lookup.description and "docs" in lookup.description
        assert lookup.parameters["required"] == ["topic"]
        toolbox = Toolbox(tmp_path, EditPolicy(), _no_tests, extra=tools)
        assert toolbox.specs[-len(ALLOWED) :] == tools.specs

        answer = await toolbox.call("docs.lookup", {"topic": "errors"})
        assert not answer.is_error
        assert answer.text.startswith('<untrusted-data source="MCP tool docs.lookup (result)">')
        assert "ValueError('E1: cannot divide by zero')" in answer.text

        # not on the allow-list: not offered, and not callable either
        refused = await toolbox.call("docs.delete_everything", {})
        assert refused.is_error and "unknown tool" in refused.text

        # the server got the variables the operator named, none of the worker's
        names = (await tools.call("docs.environment", {})).text.split("\n")[1].split()
        assert "DOCS_TOKEN" in names
        assert not [n for n in names if n.startswith("AGENTOPS")]
        # ... and runs in a directory of its own, not the worker's or a checkout
        where = (await tools.call("docs.where", {})).text.split("\n")[1]
        assert "agentops-mcp-" in where and not where.startswith(str(Path.cwd()))
        # a secret that comes back is redacted
        leaked = await tools.call("docs.leak_token", {})
        assert TOKEN not in leaked.text and "token=[REDACTED]" in leaked.text


async def _no_tests(ids: object) -> tuple[bool, str]:
    return True, ""


async def test_a_slow_call_is_a_tool_error_and_the_server_is_stopped() -> None:
    tag = f"slow-{uuid.uuid4().hex}"
    config = stdio_docs(tag, timeout_seconds=1, tools=["lookup", "slow"])
    async with open_toolset({"docs": config}, ENVIRON) as tools:
        started = time.monotonic()
        slow = await tools.call("docs.slow", {"seconds": 30})
        assert time.monotonic() - started < 3
        assert slow.is_error and slow.text == (
            "docs.slow did not answer within 1 s; the MCP server 'docs' is stopped for the "
            "rest of this run. Go on without it."
        )
        after = await tools.call("docs.lookup", {"topic": "tests"})
        assert after.is_error and "did not answer within 1 s earlier in this run" in after.text
        # the server process is gone while the run goes on
        await wait_gone(tag, 10)


async def test_a_server_that_floods_is_stopped_at_the_call_s_time(
    capfd: pytest.CaptureFixture[str],
) -> None:
    tag = f"flood-{uuid.uuid4().hex}"
    flooding = McpServer.model_validate(
        {
            "command": [sys.executable, str(FIXTURE.parent / "flooding_server.py"), tag],
            "tools": ["endless"],
            "repos": ["*"],
            "timeout_seconds": 2,
        }
    )
    shouting = stdio_docs(f"{tag}-shout", timeout_seconds=1, tools=["shout", "lookup"])
    async with open_toolset({"flood": flooding, "docs": shouting}, ENVIRON) as tools:
        started = time.monotonic()
        flood = await tools.call("flood.endless", {})  # its answer never ends
        assert time.monotonic() - started < 5
        assert flood.is_error and "did not answer within 2 s" in flood.text
        await wait_gone(f"{tag}$", 10)  # the flooding one (the other is `{tag}-shout`)
        shout = await tools.call("docs.shout", {})  # writes its standard error without end
        assert shout.is_error and "did not answer within 1 s" in shout.text
        await wait_gone(f"{tag}-shout", 10)
    assert "xxxxxxxx" not in capfd.readouterr().err  # none of it reached the worker's


async def wait_gone(tag: str, seconds: float) -> None:
    """Until no process's command line matches `tag` (the event loop goes on meanwhile)."""
    deadline = time.monotonic() + seconds
    while subprocess.run(["pgrep", "-f", tag], capture_output=True, check=False).returncode == 0:
        assert time.monotonic() < deadline, f"the server {tag} still runs"
        await asyncio.sleep(0.1)


async def test_a_flood_is_cut_and_oversized_arguments_are_not_sent() -> None:
    async with open_toolset({"docs": stdio_docs(max_result_chars=1000)}, ENVIRON) as tools:
        flood = await tools.call("docs.flood", {"chars": 300_000})
        assert "(299000 more characters not shown)" in flood.text and len(flood.text) < 1_200
        big = await tools.call("docs.lookup", {"topic": "x" * 10_000})
        assert big.is_error and "at most 8000 are sent" in big.text


async def test_a_server_that_dies_fails_its_calls_not_the_run() -> None:
    async with open_toolset({"docs": stdio_docs()}, ENVIRON) as tools:
        crashed = await tools.call("docs.crash", {})
        assert crashed.is_error
        assert crashed.text == (
            "docs.crash failed: the MCP server 'docs' stopped answering (it may have passed "
            "its limits: 2048 MB of memory, 256 processes, files of 1024 MB)"
        )
        after = await tools.call("docs.lookup", {"topic": "errors"})
        assert after.is_error and "unavailable" in after.text
        assert "earlier in this run" in after.text


async def test_a_server_that_cannot_start_or_never_answers_is_left_out() -> None:
    absent = McpServer.model_validate(
        {"command": ["/nonexistent/docs-server"], "tools": ["a"], "repos": ["*"]}
    )
    mute = McpServer.model_validate(
        {
            "command": ["/bin/sleep", "60"],
            "tools": ["a"],
            "repos": ["*"],
            "start_timeout_seconds": 1,
        }
    )
    started = time.monotonic()
    async with open_toolset({"absent": absent, "mute": mute, "docs": stdio_docs()}, ENVIRON) as t:
        assert time.monotonic() - started < 15  # the mute one is given up after 1 s
        assert [s.name for s in t.specs] == [f"docs.{n}" for n in ALLOWED]
        assert t.notices[0].startswith("MCP server 'absent' left out: ")
        assert t.notices[1] == "MCP server 'mute' left out: it did not start within 1 s"
    assert subprocess.run(["pgrep", "-f", "/bin/sleep 60"], check=False).returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_docs() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(FIXTURE), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(10)


async def test_an_http_server_is_called_with_its_secret_header(http_docs: str) -> None:
    config = McpServer.model_validate(
        {
            "url": http_docs,
            "tools": ["lookup"],
            "repos": ["*"],
            "headers": {"X-Docs": "{secret:DOCS}"},
        }
    )
    gone = McpServer.model_validate(
        {
            "url": f"http://127.0.0.1:{_free_port()}/mcp",
            "tools": ["lookup"],
            "repos": ["*"],
            "start_timeout_seconds": 2,
        }
    )
    async with open_toolset({"docs": config, "gone": gone}, ENVIRON) as tools:
        assert [s.name for s in tools.specs] == ["docs.lookup"]
        assert tools.notices == ["MCP server 'gone' left out: it could not be reached"]
        answer = await tools.call("docs.lookup", {"topic": "errors"})
        assert "House rule E1" in answer.text


async def test_doctor_says_which_servers_serve_and_which_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTOPS_MCP_SECRET_DOCS", TOKEN)
    docs = stdio_docs()
    unlisted = docs.model_copy(update={"tools": ["lookup", "translate"]})
    absent = McpServer.model_validate(
        {"command": ["/nonexistent/server"], "tools": ["a"], "repos": ["*"]}
    )
    results = await check_mcp_servers({"docs": docs, "partial": unlisted, "absent": absent})
    offers = "offers " + ", ".join(f"docs.{t}" for t in ALLOWED)
    # this host: x86_64, and a worker as root with cgroup v1 (the sandbox's own detection)
    whole = "a seccomp filter; its processes together in a cgroup v1 (memory, pids, cpu) group"
    confined = f" (confined by bubblewrap with {whole}; it has no network)"
    assert results[0] == ("docs", True, offers + confined)
    assert results[1] == ("partial", False, "MCP server 'partial' offers no tool 'translate'")
    assert results[2] == (
        "absent",
        False,
        "MCP server 'absent' left out: its command could not be started",
    )


class Refused(Exception):
    pass


async def test_what_the_block_raises_leaves_as_itself_and_the_servers_stop() -> None:
    tag = f"raise-{uuid.uuid4().hex}"
    with pytest.raises(Refused):  # not an exception group: the runner knows a refusal
        async with open_toolset({"docs": stdio_docs(tag)}, ENVIRON):
            raise Refused("the change was not completed")
    await wait_gone(tag, 10)


async def test_a_cancelled_run_stops_its_servers() -> None:
    tag = f"cancel-{uuid.uuid4().hex}"
    opened = asyncio.Event()

    async def tool_loop() -> None:
        async with open_toolset({"docs": stdio_docs(tag)}, ENVIRON):
            opened.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(tool_loop())
    await asyncio.wait_for(opened.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 15)
    await wait_gone(tag, 10)
