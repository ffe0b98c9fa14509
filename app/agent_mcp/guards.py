"""What bounds a stdio MCP server beyond its jail's namespaces and rlimits
(confinement.py): the sandbox's seccomp filter (app/sandbox/seccomp.py: no new user
namespace, no eBPF, io_uring, keyrings and the rest) and, where the host gives cgroups,
a group of its own holding its memory, its processes and its CPU as a whole
(app/sandbox/cgroups.py). Without the group, a server's rlimits are per process: 256
processes of 2 GB each could take the host's memory, and a busy one its CPU.

The MCP SDK starts a server from its argv alone (no `pass_fds`, no `preexec_fn`), so a
`/bin/sh` of ours comes first: it moves itself into the group, opens the filter as fd 3
and execs bwrap, which loads it (`--seccomp 3`) before the server starts. Everything the
server starts is born in the group. The shell runs only our own paths, before anything of
the server exists.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.sandbox.cgroups import CgroupLimits, RunCgroup, cgroup_support, create_run_cgroup
from app.sandbox.seccomp import seccomp_program

log = logging.getLogger(__name__)
SECCOMP_FD = 3
# bwrap's own two processes (outside and as the PID namespace's init) are in the group too
JAIL_PROCESSES = 4
JOIN_FAILED = 125
_SCRIPT = (
    'seccomp=$1; shift; while [ "$1" != -- ]; do echo $$ > "$1" || exit '
    f"{JOIN_FAILED}; shift; done; shift; "
    'if [ -n "$seccomp" ]; then exec "$@" 3< "$seccomp"; fi; exec "$@"'
)


@dataclass
class Guards:
    """One server's filter file and group, for its life; `release()` after it has ended."""

    seccomp: Path | None
    cgroup: RunCgroup | None

    @property
    def seccomp_fd(self) -> int | None:
        """The fd bwrap reads the filter from (`--seccomp`), or None without a filter."""
        return SECCOMP_FD if self.seccomp is not None else None

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """`argv` (bwrap's), started in the group with the filter open as `seccomp_fd`."""
        procs = []
        if self.cgroup is not None:
            procs = [str(d / "cgroup.procs") for d in dict.fromkeys(self.cgroup.dirs.values())]
        seccomp = str(self.seccomp) if self.seccomp is not None else ""
        return ["/bin/sh", "-c", _SCRIPT, "agentops-mcp-jail", seccomp, *procs, "--", *argv]

    def oom_kills(self) -> int:
        """Processes of the server the kernel killed at its group's memory limit."""
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    def release(self) -> None:
        if self.cgroup is not None:
            try:
                self.cgroup.destroy()
            except OSError as exc:  # swept at the next start (sweep_stale_groups)
                log.warning("could not remove an MCP server's cgroup: %s", exc)
            self.cgroup = None
        if self.seccomp is not None:
            with contextlib.suppress(FileNotFoundError):
                self.seccomp.unlink()
            self.seccomp = None


def make_guards(memory_bytes: int, processes: int, cpus: float) -> Guards:
    """A filter file and (where this host allows) a fresh group with these limits for the
    server's processes together (blocking: files are written)."""
    seccomp = None
    program = seccomp_program()
    if program is not None:
        fd, name = tempfile.mkstemp(prefix="agentops-mcp-seccomp-")
        with os.fdopen(fd, "wb") as out:
            out.write(program)
        seccomp = Path(name)
    limits = CgroupLimits(memory_bytes, processes + JAIL_PROCESSES, cpus)
    try:
        cgroup = create_run_cgroup(cgroup_support(), limits)
    except OSError as exc:  # rlimits still hold each process
        log.warning("an MCP server gets no cgroup of its own: %s", exc)
        cgroup = None
    if cgroup is not None:
        cgroup.close_fds()  # the shell joins by path
    return Guards(seccomp, cgroup)


def guards_said() -> str:
    """What bounds a server as a whole on this host, for `agentops doctor`."""
    support = cgroup_support()
    whole = (
        f"its processes together in a {support.describe()} group"
        if support.version is not None
        else f"per process only ({support.describe()})"
    )
    seccomp = "a seccomp filter" if seccomp_program() is not None else "no seccomp filter"
    return f"{seccomp}; {whole}"
