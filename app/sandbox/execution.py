"""Run one command in the sandbox: scratch dir, ownership, wall clock, output, verdict."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from app.sandbox.identity import UidLease, lease_uid
from app.sandbox.isolation import (
    SandboxPolicy,
    bwrap_argv,
    count_tasks_of,
    limits_preexec,
    open_seccomp,
    read_host_layout,
    sandbox_env,
    write_scratch,
)
from app.sandbox.probe import require_sandbox

log = logging.getLogger(__name__)

# --- output -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CapturedOutput:
    text: str  # head + a line saying how much was cut + tail
    total_bytes: int
    omitted_bytes: int


class OutputCapture:
    """Keeps the first `head` and the last `tail` bytes of a stream and counts the rest."""

    def __init__(self, head: int, tail: int) -> None:
        self._head_limit, self._tail_limit = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data and self._tail_limit > 0:
            self._tail += data
            del self._tail[: max(0, len(self._tail) - self._tail_limit)]

    def result(self) -> CapturedOutput:
        omitted = self.total - len(self._head) - len(self._tail)
        head = self._head.decode("utf-8", "replace")
        tail = self._tail.decode("utf-8", "replace")
        if omitted > 0:
            text = f"{head}\n[… {omitted} bytes of output omitted …]\n{tail}"
        else:
            text = head + tail
        return CapturedOutput(text=text, total_bytes=self.total, omitted_bytes=omitted)


# --- results ------------------------------------------------------------------------------


class LimitHit(StrEnum):
    WALL_TIME = "wall_time"
    CPU_TIME = "cpu_time"
    MEMORY = "memory"
    PROCESSES = "processes"


@dataclass(frozen=True)
class SandboxResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None when the wall clock ran out and we killed it
    duration_seconds: float
    output: CapturedOutput
    sandboxed: bool
    timed_out: bool = False
    signal: int | None = None  # the signal that ended the command, when we can tell
    limits_hit: tuple[LimitHit, ...] = field(default=())
    run_as: int | None = None  # host uid of the command (root mode), for audits and tests

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def summary(self) -> str:
        if self.timed_out:
            state = f"killed after {self.duration_seconds:.1f} s (wall-clock limit)"
        elif self.signal is not None:
            state = f"killed by {signal.Signals(self.signal).name}"
        else:
            state = f"exit {self.exit_code}"
        if self.limits_hit:
            state += " - limits hit: " + ", ".join(h.value for h in self.limits_hit)
        if not self.sandboxed:
            state += " - NOT sandboxed"
        return state


_MEMORY_MARKERS = re.compile(
    rb"MemoryError|Cannot allocate memory|out of memory|std::bad_alloc|memory allocation of"
)
_PROCESS_MARKERS = re.compile(
    rb"BlockingIOError|Resource temporarily unavailable|fork: retry|Cannot fork|"
    rb"can't start new thread|pthread_create failed"
)


def classify_limits(
    exit_code: int | None, timed_out: bool, output: bytes
) -> tuple[int | None, tuple[LimitHit, ...]]:
    """(signal, limits hit) from an exit status and the output (markers are heuristics)."""
    hits: list[LimitHit] = []
    sig: int | None = None
    if exit_code is not None and exit_code < 0:
        sig = -exit_code
    elif exit_code is not None and 128 < exit_code < 128 + 65:
        sig = exit_code - 128  # bwrap and shells report a killed child as 128 + signal
    if timed_out:
        hits.append(LimitHit.WALL_TIME)
    if sig == signal.SIGXCPU:
        hits.append(LimitHit.CPU_TIME)
    if exit_code not in (0, None) and _MEMORY_MARKERS.search(output):
        hits.append(LimitHit.MEMORY)
    if exit_code != 0 and _PROCESS_MARKERS.search(output):
        hits.append(LimitHit.PROCESSES)
    return sig, tuple(hits)


# --- ownership ----------------------------------------------------------------------------


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):
                os.lchown(os.path.join(dirpath, name), uid, gid)


# --- running ------------------------------------------------------------------------------


async def _pump(stream: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await stream.read(65536):
        capture.feed(chunk)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_sandboxed(
    argv: Sequence[str],
    checkout: Path,
    policy: SandboxPolicy | None = None,
    *,
    allow_unsandboxed: bool = False,
) -> SandboxResult:
    """Run `argv` with `checkout` as its writable working directory, isolated.

    Raises `SandboxUnavailable` when bwrap does not work here, unless
    `allow_unsandboxed` (then the command runs directly, with the same limits and the
    same cleared environment, and the result says `sandboxed=False`).
    """
    policy = policy or SandboxPolicy()
    status = require_sandbox(allow_unsandboxed)
    preparing = asyncio.ensure_future(
        asyncio.to_thread(_prepare, tuple(argv), checkout, policy, status.available)
    )
    try:
        run = await asyncio.shield(preparing)
    except asyncio.CancelledError:  # the thread goes on: let it finish, then undo it
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.to_thread(_clean_up, await preparing))
        raise
    try:
        return await _execute(run, policy)
    finally:  # shielded: a second cancel must not leave the checkout lent out
        await asyncio.shield(asyncio.to_thread(_clean_up, run))


@dataclass
class _Run:
    command: tuple[str, ...]
    full: list[str]
    checkout: Path
    scratch: Path
    cwd: Path
    env: dict[str, str]
    sandboxed: bool
    lent_from: tuple[int, int] | None  # the checkout's owner while the sandbox uid has it
    tasks_already: int = 0  # tasks of the uid the sandbox shares (userns mode)
    seccomp_fd: int | None = None  # the filter bwrap reads, closed after the run
    lease: UidLease | None = None  # the uid leased for this run (root mode)
    run_as: int | None = None  # the host uid the command runs as (root mode)

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return () if self.seccomp_fd is None else (self.seccomp_fd,)


def _prepare(
    command: tuple[str, ...], checkout: Path, policy: SandboxPolicy, sandboxed: bool
) -> _Run:
    """Scratch dir, argv and environment; as root, lend the checkout to the sandbox uid."""
    checkout = checkout.resolve(strict=True)
    scratch = Path(tempfile.mkdtemp(prefix="agentops-sandbox-", dir=policy.scratch_root))
    try:
        return _prepare_in(scratch, command, checkout, policy, sandboxed)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _prepare_in(
    scratch: Path,
    command: tuple[str, ...],
    checkout: Path,
    policy: SandboxPolicy,
    sandboxed: bool,
) -> _Run:
    root = os.geteuid() == 0
    if not sandboxed:
        write_scratch(scratch, os.getuid(), os.getgid())
        env = sandbox_env(policy) | {
            "HOME": str(scratch / "tmp" / "home"),
            "TMPDIR": str(scratch / "tmp"),
        }
        log.warning("running %s WITHOUT a sandbox (allowed by configuration)", command)
        tasks = 0 if root else count_tasks_of(os.getuid())
        return _Run(command, list(command), checkout, scratch, checkout, env, False, None, tasks)
    if not root:  # userns mode: inside, the service's own uid; its tasks share the budget
        write_scratch(scratch, os.getuid(), os.getgid())
        seccomp_fd = open_seccomp(scratch)
        full = bwrap_argv(
            _bwrap(),
            command,
            checkout,
            scratch,
            policy,
            read_host_layout(),
            drop_to=None,
            seccomp_fd=seccomp_fd,
        )
        tasks = count_tasks_of(os.getuid())
        return _Run(
            command, full, checkout, scratch, scratch, _bwrap_env(), True, None, tasks, seccomp_fd
        )
    lease = None
    if policy.uid is None:
        lease = lease_uid(policy.uid_pool_start, policy.uid_pool_size, policy.uid_lock_dir)
        uid = gid = lease.uid
    else:
        uid, gid = policy.uid, policy.gid if policy.gid is not None else policy.uid
    run = _Run(
        command, [], checkout, scratch, scratch, _bwrap_env(), True, None, 0, None, lease, uid
    )
    try:
        write_scratch(scratch, uid, gid)
        run.seccomp_fd = open_seccomp(scratch)
        run.full = bwrap_argv(
            _bwrap(),
            command,
            checkout,
            scratch,
            policy,
            read_host_layout(),
            drop_to=(uid, gid),
            seccomp_fd=run.seccomp_fd,
        )
        _chown_tree(scratch / "tmp", uid, gid)
        _chown_tree(scratch / "shm", uid, gid)
        owner = checkout.stat()
        run.lent_from = (owner.st_uid, owner.st_gid)  # from here on _clean_up gives it back
        _chown_tree(checkout, uid, gid)
    except BaseException:
        _clean_up(run)
        raise
    return run


def _bwrap() -> str:
    return shutil.which("bwrap") or "bwrap"


def _bwrap_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # bwrap's own; --clearenv inside


def _clean_up(run: _Run) -> None:
    if run.seccomp_fd is not None:
        os.close(run.seccomp_fd)
        run.seccomp_fd = None
    if run.lent_from is not None:
        _chown_tree(run.checkout, *run.lent_from)
        run.lent_from = None
    shutil.rmtree(run.scratch, ignore_errors=True)
    if run.lease is not None:  # last: no file of the run is owned by the uid any more
        run.lease.release()


async def _execute(run: _Run, policy: SandboxPolicy) -> SandboxResult:
    limits = policy.limits
    capture = OutputCapture(limits.output_head_bytes, limits.output_tail_bytes)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *run.full,
        cwd=run.cwd,
        env=run.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        pass_fds=run.pass_fds,
        preexec_fn=limits_preexec(limits, run.tasks_already),  # only setrlimit
    )
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, capture))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout=limits.wall_seconds)
    except TimeoutError:
        timed_out = True
        _kill_group(process.pid)
        await process.wait()
    finally:
        if process.returncode is None:  # cancelled: never leave the sandbox running
            _kill_group(process.pid)
            await process.wait()
        if not run.sandboxed:  # stragglers (in the sandbox, the PID namespace ends them)
            _kill_group(process.pid)
    try:
        await asyncio.wait_for(pump, timeout=5)
    except TimeoutError:
        pump.cancel()
    exit_code = None if timed_out else process.returncode
    output = capture.result()
    sig, hits = classify_limits(exit_code, timed_out, output.text.encode())
    if timed_out:
        sig = signal.SIGKILL
    return SandboxResult(
        argv=run.command,
        exit_code=exit_code,
        duration_seconds=time.monotonic() - started,
        output=output,
        sandboxed=run.sandboxed,
        timed_out=timed_out,
        signal=sig,
        limits_hit=hits,
        run_as=run.run_as,
    )
