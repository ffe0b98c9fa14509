"""Which isolation is in force here, in one line for `agentops doctor` and the worker's
start-up log: the sandbox mode, the cgroups (or rlimits only, and what that means), the
process budget of a run and the sized scratch space."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.sandbox.cgroups import cgroup_support
from app.sandbox.disk import can_size_scratch
from app.sandbox.isolation import SandboxLimits, own_nproc_budget
from app.sandbox.probe import probe_sandbox

MiB = 1024**2


def isolation_report(
    limits: SandboxLimits, cgroup_parent: Path | None = None, allow_unsandboxed: bool = False
) -> tuple[bool | None, str]:
    """(ok, text): ok is True with cgroups holding memory and processes of each command,
    None when only weaker limits are in force (the text says what that means), False
    when tests cannot run isolated at all."""
    status = probe_sandbox()
    if not status.available:
        if allow_unsandboxed:
            return None, f"tests run WITHOUT a sandbox (allowed by configuration): {status.detail}"
        return False, status.detail
    support = cgroup_support(cgroup_parent)
    root = os.geteuid() == 0
    parts = [
        "bwrap as root, dropping to a uid of its own per run"
        if status.mode == "setpriv"
        else "bwrap in an unprivileged user namespace, as the service's uid"
    ]
    memory = f"{limits.run_memory_bytes // MiB} MiB"
    if support.version is not None and "memory" in support.bases:
        held = [f"memory {memory}"]
        if "pids" in support.bases:
            held.append(f"{limits.processes} processes")
        if "cpu" in support.bases:
            held.append(f"{limits.cpus:g} CPUs")
        parts.append(f"{support.describe()}: each test command as a whole gets {', '.join(held)}")
    else:
        parts.append(
            f"rlimits only ({support.describe()}): memory is limited per process "
            f"({limits.memory_bytes // MiB} MiB of address space), not per run, so a test "
            "suite of many processes can use more, up to the host's memory; CPU time per "
            f"process ({limits.cpu_seconds} s)"
        )
    if "pids" not in support.bases:
        parts.append(_process_budget(limits, root))
    disk = f"{limits.disk_bytes // MiB} MiB"
    parts.append(
        f"/tmp and /dev/shm are {disk} tmpfs each; "  # noqa: S108 - inside the sandbox
        + (
            f"the run's scratch area (the copies tests run on) is a {disk} tmpfs"
            if can_size_scratch()
            else "the copies tests run on are not size-limited (a service that is not root "
            f"cannot mount a sized tmpfs), only each file ({limits.file_size_bytes // MiB} MiB)"
        )
    )
    ok = True if support.version is not None and {"memory", "pids"} <= set(support.bases) else None
    return ok, "; ".join(parts)


def _process_budget(limits: SandboxLimits, root: bool) -> str:
    if root:
        return f"{limits.processes} processes per run (RLIMIT_NPROC of a uid leased per run)"
    prlimit = shutil.which("prlimit")
    if prlimit and prlimit.startswith(("/usr/", "/bin/")) and own_nproc_budget(os.uname().release):
        return (
            f"{limits.processes} processes per run (RLIMIT_NPROC counted in each run's own "
            "user namespace)"
        )
    return (
        f"{limits.processes} processes shared with the service's uid (kernel before 5.14 or "
        "no prlimit): one run's fork bomb can make other runs fail"
    )
