"""Run one command in the sandbox: wall clock, process group, output, limits hit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from app.sandbox.isolation import SandboxLimits, SandboxPolicy, limits_preexec
from app.sandbox.probe import require_sandbox
from app.sandbox.scratch import PreparedRun, clean_up_run, prepare_run

# Called with every finished command's result. The service's metrics register here
# (app.metrics.sandbox): this package imports nothing beyond the standard library, so that
# a service user's own Python can run it (tests/integration/sandbox/test_userns_mode.py).
_OBSERVERS: list[Callable[[SandboxResult], None]] = []


def on_sandbox_run(observe: Callable[[SandboxResult], None]) -> None:
    """Have `observe` called with the result of every sandboxed command from now on."""
    if observe not in _OBSERVERS:
        _OBSERVERS.append(observe)


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
    DISK = "disk"


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
    network: str = "none"  # "none", "egress" (the prepare phase) or "host" (unsandboxed)
    oom_kills: int = 0  # processes killed at the run's memory limit (its cgroup)
    cgroups: tuple[str, ...] = ()  # the command's cgroup directories (removed by now)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def with_limits_note(self, text: str) -> str:
        """`text` (of the output) after a line naming the limits hit, when any were."""
        if not (self.limits_hit or self.oom_kills):
            return text
        return f"[the sandbox: {self.summary()}]\n{text}"

    def summary(self) -> str:
        if self.timed_out:
            state = f"killed after {self.duration_seconds:.1f} s (wall-clock limit)"
        elif self.oom_kills:
            state = "killed: out of memory"
            if self.signal != signal.SIGKILL:  # a child was killed, the command went on
                state += f" ({self.oom_kills} process(es); exit {self.exit_code})"
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
_DISK_MARKERS = re.compile(rb"No space left on device|ENOSPC|Disk quota exceeded")
_PROCESS_MARKERS = re.compile(
    rb"BlockingIOError|Resource temporarily unavailable|fork: retry|Cannot fork|"
    rb"can't start new thread|pthread_create failed"
)


def classify_limits(
    exit_code: int | None,
    timed_out: bool,
    output: bytes,
    oom_kills: int = 0,
    fork_refusals: int = 0,
) -> tuple[int | None, tuple[LimitHit, ...]]:
    """(signal, limits hit) from an exit status, the output (markers are heuristics) and
    the counters of the command's cgroups (facts, when there are cgroups)."""
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
    if oom_kills or (exit_code not in (0, None) and _MEMORY_MARKERS.search(output)):
        hits.append(LimitHit.MEMORY)
    if fork_refusals or (exit_code != 0 and _PROCESS_MARKERS.search(output)):
        hits.append(LimitHit.PROCESSES)
    if exit_code not in (0, None) and _DISK_MARKERS.search(output):
        hits.append(LimitHit.DISK)
    return sig, tuple(hits)


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
        asyncio.to_thread(prepare_run, tuple(argv), checkout, policy, status.available)
    )
    try:
        run = await asyncio.shield(preparing)
    except asyncio.CancelledError:  # the thread goes on: let it finish, then undo it
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.to_thread(clean_up_run, await preparing))
        raise
    try:
        result = await _execute(run, policy.limits)
        for observe in _OBSERVERS:
            observe(result)
        return result
    finally:  # shielded: a second cancel must not leave the checkout lent out
        await asyncio.shield(asyncio.to_thread(clean_up_run, run))


async def _execute(run: PreparedRun, limits: SandboxLimits) -> SandboxResult:
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
        # setrlimit and joining the run's cgroups (writes to pre-opened files) only
        preexec_fn=limits_preexec(
            limits,
            run.nproc,
            run.cgroup.join if run.cgroup else None,
            memory_cgroup=run.cgroup is not None and "memory" in run.cgroup.dirs,
        ),
    )
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, capture))
    timed_out = False
    try:
        async with asyncio.timeout(limits.wall_seconds):
            await process.wait()
    except TimeoutError:
        timed_out = True
    finally:
        if process.returncode is None:  # timed out or cancelled: never leave it running
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
    oom_kills = run.cgroup.oom_kills() if run.cgroup is not None else 0
    refusals = run.cgroup.fork_refusals() if run.cgroup is not None else 0
    sig, hits = classify_limits(exit_code, timed_out, output.text.encode(), oom_kills, refusals)
    return SandboxResult(
        argv=run.command,
        exit_code=exit_code,
        duration_seconds=time.monotonic() - started,
        output=output,
        sandboxed=run.sandboxed,
        timed_out=timed_out,
        signal=signal.SIGKILL if timed_out else sig,
        limits_hit=hits,
        run_as=run.run_as,
        network=run.network.value,
        oom_kills=oom_kills,
        cgroups=tuple(str(p) for p in run.cgroup.dirs.values()) if run.cgroup else (),
    )
