"""A network for `setup` commands that cannot reach the host's loopback: slirp4netns.

When `SandboxPolicy.network` is set, the sandbox still gets a network namespace of its
own; `slirp4netns --disable-host-loopback` then gives it outbound TCP/UDP through a
user-mode stack (10.0.2.0/24, DNS at 10.0.2.3), so `pip install` and `npm ci` work
while Redis, PostgreSQL and the service on the host's 127.0.0.1 stay out of reach.
Addresses other than loopback (the LAN, a cloud metadata endpoint) ARE reachable: a
setup network is still for repositories one trusts with that.

The handshake: the command is wrapped in a tiny shell loop that creates
`/run/agentops-net/want` and waits for `/run/agentops-net/ready` (the run's scratch
dir `net/`, bound there); the service reads bwrap's `--info-fd` for the sandbox's PID, waits for
the first file (bwrap has finished its own loopback set-up by then), starts
slirp4netns, waits for its ready byte and creates the second file. Without
slirp4netns installed, or when the service is not root, a setup network is the host's
own (logged as a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class NetworkMode(StrEnum):
    NONE = "none"  # loopback of its own only
    SLIRP = "slirp4netns"  # outbound through slirp4netns, host loopback refused
    HOST = "host"  # the host's network namespace (no slirp4netns installed)


NET_DIR = "/run/agentops-net"  # inside; the scratch dir's net/ (not the sandbox's tmpfs)
WANT, READY = "want", "ready"
SLIRP_DNS = "10.0.2.3"
_WAIT = (
    f": > {NET_DIR}/{WANT}; i=0; while [ ! -e {NET_DIR}/{READY} ]; do i=$((i+1)); "
    f'if [ "$i" -gt 400 ]; then echo "agentops: the sandbox network did not come up" >&2; '
    f'exit 125; fi; sleep 0.05; done; rm -f {NET_DIR}/{WANT} {NET_DIR}/{READY}; exec "$@"'
)


def network_mode(wanted: bool, root: bool) -> NetworkMode:
    """slirp4netns where it can work: installed, and the service root (it must enter the
    sandbox's network namespace and open /dev/net/tun, which bwrap's nested user
    namespace of the unprivileged mode does not allow)."""
    if not wanted:
        return NetworkMode.NONE
    return NetworkMode.SLIRP if root and shutil.which("slirp4netns") else NetworkMode.HOST


def wait_for_network(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`argv`, started only once the service has attached the network (pure)."""
    return ("/bin/sh", "-c", _WAIT, "agentops-net", *argv)


@dataclass
class Slirp:
    process: asyncio.subprocess.Process | None = None
    exit_fd: int | None = None  # slirp4netns exits when this closes, even if we die

    async def stop(self) -> None:
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


ATTACH_SECONDS = 20.0


async def attach_slirp(info_fd: int, scratch: Path) -> Slirp:
    """Give the sandbox whose bwrap writes to `info_fd` a slirp4netns network."""
    slirp = Slirp()
    try:
        await asyncio.wait_for(_attach(info_fd, scratch, slirp), ATTACH_SECONDS)
    except (TimeoutError, OSError, ValueError, KeyError) as exc:
        await slirp.stop()
        raise RuntimeError(f"could not attach the sandbox network: {exc}") from exc
    return slirp


async def _attach(info_fd: int, scratch: Path, slirp: Slirp) -> None:
    info = await _read_pipe(info_fd, _child_pid)
    pid = _child_pid(info)
    assert pid is not None
    want = scratch / "net" / WANT
    while not want.exists():  # noqa: ASYNC110 - the signal is a file made in the sandbox
        await asyncio.sleep(0.02)
    ready_r, ready_w = os.pipe()
    exit_r, slirp.exit_fd = os.pipe()
    argv = [
        "slirp4netns",
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--enable-sandbox",
        "--enable-seccomp",
        f"--ready-fd={ready_w}",
        f"--exit-fd={exit_r}",
    ]
    try:  # the ready pipe's read end belongs to _read_pipe below, unless this fails
        slirp.process = await asyncio.create_subprocess_exec(
            *argv,
            str(pid),
            "tap0",
            pass_fds=(ready_w, exit_r),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except BaseException:
        os.close(ready_r)
        raise
    finally:
        os.close(ready_w)
        os.close(exit_r)
    if not await _read_pipe(ready_r, lambda data: True if data else None):
        raise OSError("slirp4netns stopped before the network was up")
    (scratch / "net" / READY).touch()


def _child_pid(data: bytes) -> int | None:
    """bwrap writes a JSON object with "child-pid" to --info-fd."""
    try:
        return int(json.loads(data)["child-pid"])
    except ValueError:
        return None


async def _read_pipe(fd: int, done: Callable[[bytes], object]) -> bytes:
    """Read `fd` (and close it) until `done(data)` is not None, or end of file."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    data = b""
    try:
        while chunk := await reader.read(4096):
            data += chunk
            if done(data) is not None:
                return data
        if done(data) is None:
            raise ValueError(f"pipe closed after {data[:200]!r}")
        return data
    finally:
        transport.close()
