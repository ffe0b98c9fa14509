"""An operator's stdio MCP server is jailed (app/agent_mcp/confinement.py): a server made to
read whatever its model-chosen arguments say (`tests/fixtures/mcp/reader_server.py`),
started through the production path (`open_toolset` → `connect` → bwrap), cannot read
the worker's environment, see its processes, or see a checkout beside its own folder;
its own tools still work."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.agent_mcp.servers import McpServer
from app.agent_mcp.toolset import McpToolset, open_toolset
from app.sandbox.identity import lease_uid
from app.sandbox.isolation import SandboxPolicy, count_tasks_of

pytestmark = pytest.mark.e2e
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mcp" / "reader_server.py"
SECRET = "worker-private-key-Vd3kQ9zLm2"
READER = McpServer.model_validate(
    {
        "command": [sys.executable, str(FIXTURE)],
        "tools": ["read", "listdir", "write", "whoami", "echo", "connect", "user_namespace"],
        "repos": ["*"],
    }
)


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the worker's uid with a secret in its environment."""
    child = subprocess.Popen(
        ["/bin/sleep", "300"], env={"AGENTOPS_GITHUB_PRIVATE_KEY": SECRET, "PATH": "/usr/bin"}
    )
    environ = Path(f"/proc/{child.pid}/environ")
    deadline = time.monotonic() + 10
    while SECRET not in environ.read_text(errors="replace"):  # readable once it has exec'd
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield child
    child.kill()
    child.wait(10)


@pytest.fixture
def checkout() -> Iterator[Path]:
    """A run's checkout in the worker's temporary folder, beside the server's own."""
    with tempfile.TemporaryDirectory(prefix="checkout-") as folder:
        (Path(folder) / "secret.txt").write_text(SECRET)
        yield Path(folder)


async def answer(tools: McpToolset, tool: str, **arguments: object) -> str:
    return await answer_of(tools, "reader", tool, arguments)


async def answer_of(
    tools: McpToolset, server: str, tool: str, arguments: dict[str, object] | None = None
) -> str:
    result = await tools.call(f"{server}.{tool}", arguments or {})
    assert not result.is_error, result.text
    return result.text.split("\n", 1)[1].rsplit("\n", 1)[0]  # inside the fence


async def test_a_server_sees_neither_the_worker_nor_its_checkouts(
    worker: subprocess.Popen[bytes], checkout: Path
) -> None:
    async with open_toolset({"reader": READER}, {}) as tools:
        assert tools.notices == []
        assert await answer(tools, "echo", text="still works") == "still works"
        home, pid, _uid = (await answer(tools, "whoami")).split()
        assert Path(home).name.startswith("agentops-mcp-")
        assert int(pid) < 10  # its own PID namespace

        # the worker's environment (the App's key, the database URL, the LLM keys)
        for target in (worker.pid, os.getpid()):
            read = await answer(tools, "read", path=f"/proc/{target}/environ")
            assert read.startswith("refused: ") and SECRET not in read
        # no other process: only those of its own namespace
        listed = (await answer(tools, "listdir", path="/proc")).removeprefix("listed: ")
        pids = [int(n) for n in listed.split() if n.isdigit()]
        assert pids and max(pids) < 10 and worker.pid not in pids and os.getpid() not in pids
        # a checkout beside its own folder: neither the file nor the folder
        read = await answer(tools, "read", path=str(checkout / "secret.txt"))
        assert read == "refused: FileNotFoundError"
        parent = Path(home).parent
        beside = (await answer(tools, "listdir", path=str(parent))).removeprefix("listed: ")
        # only its home, and the way to what is bound read-only for its program (a venv or
        # a checkout of this repository may lie in the same temporary folder)
        bound = (Path(sys.prefix), Path(sys.base_prefix), FIXTURE)
        ways = {p.relative_to(parent).parts[0] for p in bound if p.is_relative_to(parent)}
        assert checkout.name not in beside.split()
        assert set(beside.split()) == {Path(home).name} | ways
        # nor the worker's working directory, its home, nor the host's secrets in /etc
        for path in (Path.cwd() / "pyproject.toml", "/etc/shadow", "/root/.bashrc"):
            assert (await answer(tools, "read", path=str(path))).startswith("refused: ")
        # its own program is there, read-only; its home is its own to write
        assert (await answer(tools, "read", path=str(FIXTURE))).startswith("read: ")
        wrote = await answer(tools, "write", path=str(FIXTURE), text="x")
        assert wrote.startswith("refused: ")
        assert await answer(tools, "write", path=f"{home}/notes.txt", text="x") == "written"
    assert FIXTURE.read_text().startswith('"""A hostile-by-use MCP server')


async def test_what_the_operator_lets_it_read_is_there_read_only(tmp_path: Path) -> None:
    served = tmp_path / "docs"
    served.mkdir()
    (served / "guide.md").write_text("the house guide")
    config = READER.model_copy(update={"read_only_paths": [str(served)]})
    async with open_toolset({"reader": config}, {}) as tools:
        assert await answer(tools, "read", path=str(served / "guide.md")) == "read: the house guide"
        wrote = await answer(tools, "write", path=str(served / "guide.md"), text="defaced")
        assert wrote.startswith("refused: ")
        beside = await answer(tools, "listdir", path=str(tmp_path))
        assert beside == "listed: docs"  # the folder it was given, nothing beside it
    # a folder that holds the worker's own is refused, the run goes on without the server
    broad = READER.model_copy(update={"read_only_paths": [tempfile.gettempdir()]})
    absent = READER.model_copy(update={"read_only_paths": [str(tmp_path / "absent")]})
    async with open_toolset({"reader": broad, "absent": absent}, {}) as tools:
        assert tools.specs == ()
        assert "holds the worker's own" in tools.notices[0]
        assert tools.notices[1].endswith(f"`read_only_paths`: {tmp_path / 'absent'} does not exist")


async def test_a_link_or_dots_to_the_worker_s_folder_is_refused_too(
    tmp_path: Path, checkout: Path
) -> None:
    """Attack: `read_only_paths` naming the worker's temporary folder (where checkouts
    live) through a link, or through `..`, passed the check that refuses it by name,
    and bwrap bound what they lead to: every run's checkout (a clone's folders and files
    are world-readable, as git makes them)."""
    checkout.chmod(0o755)
    (checkout / "secret.txt").chmod(0o644)
    link = tmp_path / "docs"
    link.symlink_to(tempfile.gettempdir())
    dots = str(tmp_path) + "/.." * len(tmp_path.parts) + tempfile.gettempdir()
    for given in (str(link), dots):
        config = READER.model_copy(update={"read_only_paths": [given]})
        async with open_toolset({"reader": config}, {}) as tools:
            if tools.specs:  # started: what it reads is the proof
                read = await answer(tools, "read", path=f"{given}/{checkout.name}/secret.txt")
                assert SECRET not in read, read
            assert tools.specs == ()
            assert "holds the worker's own" in tools.notices[0]


@pytest.fixture
def loopback_service() -> Iterator[int]:
    """A service of the worker's machine on loopback (as Redis is, which runs what its
    queue holds in the worker): it answers `PING` with `+PONG`."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(100)
                conn.sendall(b"+PONG\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


async def test_a_server_reaches_no_loopback_service_unless_given_the_network(
    loopback_service: int,
) -> None:
    """Attack: a compromised (or steered) server in the jail connected to the worker's
    loopback services: Redis without a password, whose queued jobs the worker unpickles,
    is code execution outside the jail. Without `network: true` it has only a loopback
    of its own."""
    async with open_toolset({"reader": READER}, {}) as tools:
        said = await answer(tools, "connect", host="127.0.0.1", port=loopback_service)
        assert said.startswith("refused: "), said
    online = READER.model_copy(update={"network": True})
    async with open_toolset({"reader": online}, {}) as tools:
        said = await answer(tools, "connect", host="127.0.0.1", port=loopback_service)
        assert said == "connected: +PONG"


async def test_each_server_runs_as_a_uid_of_its_own_and_gives_it_back() -> None:
    """As root, every server runs as a uid leased from the sandbox's pool, not `nobody`:
    its process budget (`RLIMIT_NPROC`) counts its own processes only, so a server that
    forks to its limit starves no other server, no sandbox run and nothing else of
    `nobody`. The uid is free again once the server has ended."""
    async with open_toolset({"one": READER, "two": READER}, {}) as tools:
        assert tools.notices == []
        one = int((await answer_of(tools, "one", "whoami")).split()[2])
        two = int((await answer_of(tools, "two", "whoami")).split()[2])
    if os.geteuid() != 0:  # an unprivileged user namespace of the worker's own uid
        assert one == two == os.getuid()
        return
    start = SandboxPolicy.uid_pool_start
    pool = range(start, start + SandboxPolicy.uid_pool_size)
    assert one != two and one in pool and two in pool
    assert count_tasks_of(one) == count_tasks_of(two) == 0
    lease = lease_uid(one, 1, SandboxPolicy.uid_lock_dir)  # free to be leased again
    lease.release()


async def test_a_server_cannot_make_a_user_namespace() -> None:
    """The sandbox's seccomp filter holds in the jail too: a server, or a program a model
    made it run, gets no user namespace, the way in to kernel code meant for root."""
    async with open_toolset({"reader": READER}, {}) as tools:
        assert tools.notices == []
        assert await answer(tools, "user_namespace") == "refused: Operation not permitted"
        assert await answer(tools, "echo", text="still works") == "still works"
