"""One cgroup per sandboxed command: memory, processes and CPU of the run as a whole.

rlimits bound each process; a test suite of many processes (a fork bomb, a memory hog
that forks) is bounded only by a cgroup. `detect_cgroups` finds where this service may
make them, once per process:

- cgroup v2 where delegated: a writable directory whose `cgroup.subtree_control` has (or
  accepts) `+memory +pids +cpu` — `AGENTOPS_SANDBOX_CGROUP`, else the service's own
  cgroup's parent (systemd `Delegate=yes` with `DelegateSubgroup=`), else its own;
- cgroup v1 (these machines): the `memory`, `pids` and `cpu` hierarchies, each in the
  service's own group of that hierarchy when it is writable (root).

`RunCgroup` is made before the command starts; the child joins it between fork and exec
(`join`: a write of "0" to pre-opened `cgroup.procs` files), so bwrap and everything it
forks are inside from the first instruction. Afterwards every task left is killed
(`cgroup.kill` on v2) and the groups are removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

CONTROLLERS = ("memory", "pids", "cpu")
CFS_PERIOD_US = 100_000
GROUP_PREFIX = "agentops-sandbox-"


@dataclass(frozen=True)
class CgroupSupport:
    version: str | None  # "v1", "v2" or None (rlimits only)
    bases: Mapping[str, Path] = field(default_factory=dict)  # controller -> parent dir
    why_not: str = ""  # what was missing, when version is None or a controller is

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(c for c in CONTROLLERS if c in self.bases)

    def describe(self) -> str:
        if self.version is None:
            return f"no cgroups ({self.why_not})"
        text = f"cgroup {self.version} ({', '.join(self.controllers)})"
        return text + (f"; {self.why_not}" if self.why_not else "")


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int | None  # the whole command: RAM + tmpfs pages it writes
    processes: int | None  # tasks (processes and threads) at once
    cpus: float | None  # CPU time per wall-clock second (2.0: two cores' worth)


# --- finding where groups may be made (pure parsing, then a look at the files) -----------


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/self/cgroup as {controller: path}; the v2 entry is under the key ""."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for name in parts[1].split(",") if parts[1] else [""]:
            found[name] = parts[2]
    return found


@dataclass(frozen=True)
class CgroupMount:
    fstype: str  # "cgroup" (v1) or "cgroup2"
    root: str  # the part of the hierarchy this mount shows
    point: Path
    options: frozenset[str]  # v1: the controllers of the hierarchy


def parse_mountinfo(text: str) -> list[CgroupMount]:
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        point = Path(fields[4].replace("\\040", " "))
        mounts.append(CgroupMount(tail[0], fields[3], point, frozenset(tail[2].split(","))))
    return mounts


def own_dir(mount: CgroupMount, path: str) -> Path | None:
    """Where the cgroup at hierarchy `path` appears under `mount`, if it is visible."""
    root = mount.root.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        return None
    return mount.point / path[len(root) :].lstrip("/")


@cache
def cgroup_support(configured: Path | None = None) -> CgroupSupport:
    """`detect_cgroups`, once per process (and per configured directory)."""
    return detect_cgroups(configured)


def detect_cgroups(configured: Path | None = None) -> CgroupSupport:
    """Where this process may make per-run cgroups (v2 preferred), or why it may not."""
    try:
        own = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())
        mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    except OSError as exc:
        return CgroupSupport(None, why_not=f"cannot read /proc ({exc.strerror})")
    v2 = _detect_v2(own, mounts, configured)
    if v2.version is not None or configured is not None:
        return v2
    v1 = _detect_v1(own, mounts)
    if v1.version is not None:
        return v1
    return CgroupSupport(None, why_not=f"{v2.why_not}; {v1.why_not}")


def _detect_v2(
    own: dict[str, str], mounts: list[CgroupMount], configured: Path | None
) -> CgroupSupport:
    candidates: list[Path] = []
    if configured is not None:
        candidates.append(configured)
    else:
        unified = next((m for m in mounts if m.fstype == "cgroup2"), None)
        where = own_dir(unified, own[""]) if unified is not None and "" in own else None
        if where is None:
            return CgroupSupport(None, why_not="no cgroup v2 hierarchy of this process")
        candidates += dict.fromkeys([where, where.parent])
    reasons: list[str] = []
    for base in candidates:
        problem = _v2_usable(base)
        if problem is None:
            return CgroupSupport("v2", {c: base for c in CONTROLLERS})
        reasons.append(f"{base}: {problem}")
    return CgroupSupport(None, why_not="cgroup v2 not delegated (" + "; ".join(reasons) + ")")


def _v2_usable(base: Path) -> str | None:
    try:
        available = set((base / "cgroup.controllers").read_text().split())
    except OSError:
        return "not a cgroup v2 directory"
    missing = [c for c in CONTROLLERS if c not in available]
    if missing:
        return f"controllers {', '.join(missing)} not available"
    if not os.access(base, os.W_OK) or not os.access(base / "cgroup.subtree_control", os.W_OK):
        return "not writable by this user"
    enabled = set((base / "cgroup.subtree_control").read_text().split())
    wanted = [c for c in CONTROLLERS if c not in enabled]
    if wanted:
        try:
            (base / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in wanted))
        except OSError as exc:
            return f"cannot enable {', '.join(wanted)} in cgroup.subtree_control ({exc.strerror})"
    return None


def _detect_v1(own: dict[str, str], mounts: list[CgroupMount]) -> CgroupSupport:
    bases: dict[str, Path] = {}
    problems: list[str] = []
    for controller in CONTROLLERS:
        mount = next((m for m in mounts if m.fstype == "cgroup" and controller in m.options), None)
        if mount is None or controller not in own:
            problems.append(f"no v1 {controller} hierarchy")
            continue
        where = own_dir(mount, own[controller])
        if where is None or not where.is_dir():
            problems.append(f"this process's v1 {controller} group is not visible")
        elif not os.access(where, os.W_OK):
            problems.append(f"{where} is not writable by this user")
        else:
            bases[controller] = where
    if "memory" not in bases and "pids" not in bases:
        return CgroupSupport(None, why_not="cgroup v1: " + "; ".join(problems))
    return CgroupSupport("v1", bases, why_not="; ".join(problems))


# --- one run's group -----------------------------------------------------------------------


@dataclass
class RunCgroup:
    version: str
    dirs: dict[str, Path]  # controller -> this run's directory (v2: the same for all)
    procs_fds: list[int] = field(default_factory=list)

    def join(self) -> None:
        """In the child between fork and exec: move this very process into the groups."""
        for fd in self.procs_fds:
            os.write(fd, b"0")

    def close_fds(self) -> None:
        for fd in self.procs_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.procs_fds = []

    def oom_kills(self) -> int:
        """Processes the kernel killed because the group ran out of memory."""
        if "memory" not in self.dirs:
            return 0
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        return _counter(self.dirs["memory"] / name, "oom_kill")

    def fork_refusals(self) -> int:
        """fork/clone calls refused at `pids.max`."""
        return _counter(self.dirs["pids"] / "pids.events", "max") if "pids" in self.dirs else 0

    def destroy(self, timeout: float = 5.0) -> None:
        """Kill every task still inside, then remove the groups."""
        self.close_fds()
        unique = list(dict.fromkeys(self.dirs.values()))
        deadline = time.monotonic() + timeout
        for path in unique:
            if self.version == "v2" and (path / "cgroup.kill").exists():
                with contextlib.suppress(OSError):
                    (path / "cgroup.kill").write_text("1")
        while True:
            left = [p for p in unique if p.exists() and not _try_rmdir(p)]
            if not left or time.monotonic() > deadline:
                break
            for path in left:
                _kill_tasks(path)
            time.sleep(0.01)
        for path in left:
            raise OSError(errno.EBUSY, "cgroup still has tasks after kill", str(path))


def sweep_stale_groups(support: CgroupSupport, older_than: float = 300.0) -> int:
    """Remove the empty per-command groups older than `older_than` seconds that a worker
    killed with SIGKILL left behind; a group with tasks in it is never touched (rmdir
    refuses), nor a young one (a command of another worker about to join it)."""
    removed = 0
    now = time.time()
    for base in dict.fromkeys(support.bases.values()):
        for group in base.glob(GROUP_PREFIX + "*"):
            try:
                if now - group.stat().st_mtime < older_than:
                    continue
                group.rmdir()
            except OSError:
                continue
            removed += 1
    return removed


def _counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _try_rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _kill_tasks(path: Path) -> None:
    try:
        pids = (path / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def limit_writes(version: str, limits: CgroupLimits) -> dict[str, list[tuple[str, str]]]:
    """(file, value) to write per controller, in order (pure)."""
    writes: dict[str, list[tuple[str, str]]] = {}
    if limits.memory_bytes is not None:
        memory = str(limits.memory_bytes)
        if version == "v2":
            writes["memory"] = [("memory.max", memory), ("memory.swap.max", "0")]
        else:  # memsw (RAM + swap) must be set after, and not below, the RAM limit
            writes["memory"] = [
                ("memory.limit_in_bytes", memory),
                ("memory.memsw.limit_in_bytes", memory),
            ]
    if limits.processes is not None:
        writes["pids"] = [("pids.max", str(limits.processes))]
    if limits.cpus is not None:
        quota = max(1000, int(limits.cpus * CFS_PERIOD_US))
        if version == "v2":
            writes["cpu"] = [("cpu.max", f"{quota} {CFS_PERIOD_US}")]
        else:
            writes["cpu"] = [
                ("cpu.cfs_period_us", str(CFS_PERIOD_US)),
                ("cpu.cfs_quota_us", str(quota)),
            ]
    return writes


OPTIONAL_FILES = frozenset({"memory.swap.max", "memory.memsw.limit_in_bytes"})


def create_run_cgroup(support: CgroupSupport, limits: CgroupLimits) -> RunCgroup | None:
    """A fresh group with `limits` under each base, or None without cgroup support."""
    if support.version is None or not support.bases:
        return None
    name = GROUP_PREFIX + uuid.uuid4().hex[:12]
    group = RunCgroup(support.version, {})
    try:
        made: dict[Path, Path] = {}
        for controller, base in support.bases.items():
            if base not in made:
                made[base] = base / name
                made[base].mkdir(mode=0o755)
            group.dirs[controller] = made[base]
        for controller, writes in limit_writes(support.version, limits).items():
            if controller not in group.dirs:
                continue
            for filename, value in writes:
                try:
                    (group.dirs[controller] / filename).write_text(value)
                except OSError:
                    if filename not in OPTIONAL_FILES:
                        raise
        for path in dict.fromkeys(group.dirs.values()):
            group.procs_fds.append(os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
    except BaseException:
        with contextlib.suppress(OSError):
            group.destroy(timeout=1.0)
        raise
    return group
