"""Hostile repositories: their tests try to escape, and each attempt must fail.

Each hostile test tries for real and prints what it got; the assertions here look at
the host afterwards (listener, files) and at the captured output (no secret in it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox import LimitHit, run_sandboxed
from tests.integration.sandbox.repos import PYTEST, policy, write_repo

SECRET = "fake-secret-7f3a9c"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    yield server
    server.close()


async def test_no_network(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_net.py": f"""
            import socket

            def test_host_loopback():
                socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"stolen")

            def test_public_address():
                socket.create_connection(("1.1.1.1", 443), timeout=3)

            def test_dns():
                socket.getaddrinfo("github.com", 443)
        """,
        },
    )
    result = await run_sandboxed(PYTEST, repo, policy())
    out = result.output.text
    assert "3 failed" in out, out
    assert "ConnectionRefusedError" in out  # its own empty loopback, not the host's
    assert "Network is unreachable" in out
    with pytest.raises(TimeoutError):
        listener.accept()


async def test_no_secrets_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTOPS_GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_env.py": """
            import glob, os

            def test_steal_environment():
                print(dict(os.environ))
                for path in glob.glob("/proc/*/environ"):
                    try:
                        print(path, open(path, "rb").read())
                    except OSError as exc:
                        print(path, exc)
                assert "AGENTOPS_GITHUB_WEBHOOK_SECRET" in os.environ
        """,
        },
    )
    result = await run_sandboxed(PYTEST, repo, policy())
    assert "1 failed" in result.output.text
    assert "HOME" in result.output.text  # it did print its environment ...
    assert SECRET not in result.output.text  # ... without the service's secrets


async def test_no_files_outside_the_checkout(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    other = write_repo(runs / "other-run", {"secret.txt": f"{SECRET}-other-run"})
    outside = tmp_path / "outside-secret.txt"
    outside.write_text(f"{SECRET}-tmp")
    in_root = Path("/root/agentops-sandbox-test-secret.txt")
    in_root.write_text(f"{SECRET}-root")
    service_dir = Path(__file__).resolve().parents[3]  # this repository: the service's code
    targets = [
        str(outside),
        str(in_root),
        str(other / "secret.txt"),
        "../other-run/secret.txt",
        "/etc/shadow",
        str(service_dir / "pyproject.toml"),
        "/proc/1/root/etc/shadow",
        "leak-outside",  # symlinks the repository ships, pointing out of the checkout
        "leak-root",
    ]
    repo = write_repo(
        runs / "this-run",
        {
            "test_files.py": f"""
            import os, pytest

            @pytest.mark.parametrize("path", {targets!r})
            def test_read(path):
                print(open(path).read())

            def test_list():
                for top in ("/", "/root", "/home", "/tmp", "/workspace/.."):
                    print(top, sorted(os.listdir(top)) if os.path.isdir(top) else "absent")
                assert 0
        """,
        },
    )
    os.chown(outside, 12345, 12345)  # if lending the checkout followed links, this changes
    (repo / "leak-outside").symlink_to(outside)
    (repo / "leak-root").symlink_to(in_root)
    try:
        result = await run_sandboxed(PYTEST, repo, policy())
    finally:
        in_root.unlink()
    assert outside.stat().st_uid == 12345  # lending and giving back: lchown, never follow
    out = result.output.text
    assert f"{len(targets) + 1} failed" in out, out
    assert SECRET not in out
    assert "root:" not in out  # /etc/shadow
    for hidden in ("'home'", "'var'", "'run'", "'srv'", "'sys'"):
        assert hidden not in out.split("/ [", 1)[1].split("]", 1)[0]


async def test_no_writes_outside_the_checkout(tmp_path: Path) -> None:
    targets = [
        tmp_path / "planted.txt",
        Path("/tmp/agentops-sandbox-planted.txt"),
        Path("/usr/local/agentops-sandbox-planted.txt"),
        Path("/root/agentops-sandbox-planted.txt"),
    ]
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_write.py": f"""
            import os, pytest

            @pytest.mark.parametrize("path", {[str(t) for t in targets]!r})
            def test_write(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as handle:
                    handle.write("planted")

            def test_write_in_checkout():
                with open("made-here.txt", "w") as handle:
                    handle.write("fine")
        """,
        },
    )
    result = await run_sandboxed(PYTEST, repo, policy())
    out = result.output.text
    # /usr is read-only and /root is not the host's; /tmp (where tmp_path lives too) is
    # the run's private scratch dir: writing there works inside and vanishes with it
    assert "2 failed, 3 passed" in out, out
    for target in targets:
        assert not target.exists(), target
    assert (repo / "made-here.txt").read_text() == "fine"
    assert (repo / "made-here.txt").stat().st_uid == os.getuid()


def _processes_of(uid: int) -> list[str]:
    done = subprocess.run(
        ["ps", "-o", "pid=,cmd=", "-u", str(uid)], capture_output=True, text=True, check=False
    )
    return done.stdout.split("\n") if done.stdout.strip() else []


def _no_survivors(uid: int | None) -> None:
    assert uid is not None and uid >= 2_100_000_000  # a uid leased for this run alone
    for _ in range(50):
        if not _processes_of(uid):
            return
        time.sleep(0.1)
    raise AssertionError(f"sandbox processes survived: {_processes_of(uid)}")


async def test_fork_bomb_hits_the_process_limit(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_bomb.py": """
            import os

            def test_bomb():
                while True:
                    os.fork()
        """,
        },
    )
    started = time.monotonic()
    result = await run_sandboxed(PYTEST, repo, policy(processes=32, wall_seconds=5))
    assert time.monotonic() - started < 9
    assert not result.passed
    assert LimitHit.PROCESSES in result.limits_hit or LimitHit.WALL_TIME in result.limits_hit
    assert "limits hit" in result.summary()
    if os.geteuid() == 0:
        _no_survivors(result.run_as)


async def test_memory_hog_hits_the_memory_limit(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_hog.py": """
            def test_hog():
                # Written, not only reserved: untouched pages cost no memory, so
                # only the cgroup's real limit (not an address-space cap) stops this.
                hoard = b"x" * (2 * 1024**3)
                assert hoard
        """,
        },
    )
    limit = 768 * 1024**2
    result = await run_sandboxed(PYTEST, repo, policy(run_memory_bytes=limit, memory_bytes=limit))
    assert not result.passed
    assert LimitHit.MEMORY in result.limits_hit, result.output.text
    assert result.duration_seconds < 10


async def test_spinning_hits_the_cpu_limit(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_spin.py": """
            def test_spin():
                while True:
                    pass
        """,
        },
    )
    result = await run_sandboxed(PYTEST, repo, policy(cpu_seconds=1))
    assert LimitHit.CPU_TIME in result.limits_hit, result.summary()
    assert result.duration_seconds < 10
    assert "SIGXCPU" in result.summary()


async def test_sleeping_forever_hits_the_wall_clock_and_nothing_survives(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"hang.sh": "sleep 300 &\nsleep 300\n"})
    result = await run_sandboxed(["sh", "hang.sh"], repo, policy(wall_seconds=1.5))
    assert result.timed_out
    assert result.exit_code is None
    assert result.limits_hit == (LimitHit.WALL_TIME,)
    assert 1.5 <= result.duration_seconds < 8, result.summary()
    assert "wall-clock limit" in result.summary()
    if os.geteuid() == 0:
        _no_survivors(result.run_as)


async def test_flood_of_output_is_cut_in_the_middle(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "flood.py": "print('FIRST')\nfor i in range(200000): print('x' * 50)\nprint('LAST')\n",
        },
    )
    limits = policy(output_head_bytes=1000, output_tail_bytes=1000)
    result = await run_sandboxed(["python", "flood.py"], repo, limits)
    assert result.passed
    text = result.output.text
    assert text.startswith("FIRST") and text.rstrip().endswith("LAST")
    assert result.output.total_bytes > 10_000_000
    assert f"{result.output.omitted_bytes} bytes of output omitted" in text
    assert len(text) < 2200


async def test_no_new_user_namespaces_or_keyrings(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "test_kernel.py": """
            import ctypes, os, pytest

            libc = ctypes.CDLL(None, use_errno=True)

            @pytest.mark.parametrize("name, call", [
                ("userns", lambda: libc.unshare(0x10000000)),
                ("keyctl", lambda: libc.syscall(250, 0, 0, 0, 0, 0)),
                ("bpf", lambda: libc.syscall(321, 0, 0, 0)),
            ])
            def test_escape(name, call):
                assert call() == 0, os.strerror(ctypes.get_errno())
        """,
        },
    )
    result = await run_sandboxed(PYTEST, repo, policy())
    assert "3 failed" in result.output.text, result.output.text
    assert result.output.text.count("Operation not permitted") >= 3
