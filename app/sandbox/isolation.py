"""The bubblewrap sandbox: its policy, the exact `bwrap` argv and the limits.

What the sandbox guarantees (each line is tested in tests/integration/sandbox):

- no network: `--unshare-net` gives a namespace with only its own loopback, so neither a
  port on the host's 127.0.0.1 nor a public address is reachable. The prepare phase's
  commands (`SandboxPolicy.egress`) get one way out: a Unix socket of the worker's egress
  proxy, which admits only the operator's package registries (app/prepare/egress.py);
- no secrets in the environment: `--clearenv`, then only `sandbox_env()`'s allow-list;
- no host files beyond the toolchain: a fresh root with read-only `/usr` (and the
  `/bin`, `/lib*` links), an allow-list of harmless `/etc` files, synthetic
  `/etc/passwd`, `/etc/group`, `/etc/hosts`, the Python environment read-only when one
  is given, the run's own copy of the checkout (no `.git`, app/sandbox/workcopy.py)
  read-write at `/workspace`, a private `/tmp` and `/dev/shm` (tmpfs of
  `SandboxLimits.disk_bytes` each), a new `/proc` of the sandbox's own PID
  namespace and a minimal `/dev`; the sandbox's own root and `/dev` are read-only.
  `/root`, `/home`, `/var`, `/run`, `/srv`, `/sys`, the service's working directory, the
  worker's checkout and its `.git`, and every other run's tree simply do not exist inside;
- a seccomp filter (x86_64) refuses new user namespaces, keyrings, eBPF, io_uring and
  other kernel interfaces tests never need (app/sandbox/seccomp.py);
- no privileges: when the service runs as root, bwrap keeps the host user namespace and
  the command is started through `setpriv` as an unprivileged uid/gid (a uid leased
  for this run alone, see identity.py) with no capabilities, an empty bounding set and
  `no_new_privs`; otherwise bwrap creates an unprivileged user namespace
  (`--unshare-user --disable-userns`);
- limits on each process (setrlimit before bwrap starts; inherited by everything inside):
  CPU seconds, address space, processes of the sandbox uid (in userns mode: of the
  sandbox's own user namespace, set by `prlimit` inside), file size, open files, no core
  files; on the command as a whole, where the host gives cgroups: memory, processes and
  CPU (app/sandbox/cgroups.py); the wall-clock timeout and process group kill live in
  `app/sandbox/execution.py`.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.sandbox.network import EGRESS_DIR, NetworkMode, proxy_env
from app.sandbox.seccomp import seccomp_program

WORKSPACE = "/workspace"
SANDBOX_HOME = "/tmp/home"  # noqa: S108 - inside the sandbox; /tmp is the run's scratch dir
SANDBOX_USER = "sandbox"
NOBODY = 65534

# /etc entries that carry no secrets and that toolchains read; everything else is absent.
ETC_ALLOW = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "php",
    "protocols",
    "python3",
    "services",
    "ssl/certs",
    "ssl/openssl.cnf",
    "timezone",
)
# top-level entries of a merged-/usr system: symlinks on the host become symlinks inside
SYSTEM_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 600  # per process; SIGXCPU at this, SIGKILL 5 s later
    # address space per process (RLIMIT_AS), only where no memory cgroup bounds the run
    memory_bytes: int = 4 * 1024**3
    # processes and threads of the command as a whole: pids.max of its cgroup, and
    # RLIMIT_NPROC (of its leased uid as root; of its own user namespace otherwise)
    processes: int = 256
    run_memory_bytes: int = 4 * 1024**3  # the whole command (cgroup), tmpfs pages included
    cpus: float = 2.0  # CPU time per wall-clock second for the whole command (cgroup)
    disk_bytes: int = 2 * 1024**3  # size of its /tmp (HOME too) and of its /dev/shm
    file_size_bytes: int = 1024**3  # largest file a process may write (RLIMIT_FSIZE)
    open_files: int = 1024
    wall_seconds: float = 900.0  # the whole command, then its process group is killed
    output_head_bytes: int = 32 * 1024  # output kept from the start ...
    output_tail_bytes: int = 32 * 1024  # ... and from the end; the middle is cut


@dataclass(frozen=True)
class Bind:
    """A host directory shown inside the sandbox (e.g. a repository's installed dependencies)."""

    host: Path
    inside: str  # absolute; under WORKSPACE it lays over the run's copy
    writable: bool = False


@dataclass(frozen=True)
class SandboxPolicy:
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    # the directory of an egress proxy's socket (prepare phase only): the one way out
    egress: Path | None = None
    binds: tuple[Bind, ...] = ()  # after the workspace, in order
    # a virtualenv or Python prefix to expose read-only, its bin/ first on PATH
    python_env: Path | None = None
    ro_paths: tuple[Path, ...] = ()  # more toolchains (e.g. /opt/go), read-only, same path
    env: Mapping[str, str] = field(default_factory=dict)  # extra, non-secret variables
    # the host uid/gid commands run as when the service is root; None: lease a free uid
    # of the pool for each run (app/sandbox/identity.py), so runs never share a budget
    uid: int | None = None
    gid: int | None = None
    uid_pool_start: int = 2_100_000_000
    uid_pool_size: int = 4096
    uid_lock_dir: Path = Path("/run/agentops-sandbox/uids")
    scratch_root: Path | None = None  # where per-run scratch dirs go (default: $TMPDIR)
    cgroups: bool = True  # a cgroup per command where the host allows (cgroups.py)
    cgroup_parent: Path | None = None  # a delegated cgroup v2 directory (else found)


# --- environment and files --------------------------------------------------------------


def python_env_paths(prefix: Path) -> tuple[list[Path], list[str]]:
    """Read-only paths and PATH entries that make the Python at `prefix` usable inside."""
    paths = [prefix]
    bins = [str(prefix / "bin")]
    config = prefix / "pyvenv.cfg"
    if config.is_file():
        for line in config.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                home = Path(value.strip()).resolve()
                paths.append(home.parent if home.name == "bin" else home)
    for interpreter in (prefix / "bin" / "python3", prefix / "bin" / "python"):
        try:
            real = interpreter.resolve(strict=True)
        except (OSError, RuntimeError):
            continue  # absent, or behind a directory this user cannot read
        paths.append(real.parent.parent if real.parent.name == "bin" else real.parent)
        break
    unique = [p for p in dict.fromkeys(paths) if not _under(p, Path("/usr"))]
    return unique, bins


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def sandbox_env(policy: SandboxPolicy) -> dict[str, str]:
    """The whole environment inside the sandbox: an allow-list, never the service's."""
    path = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"]
    if policy.python_env is not None:
        path = python_env_paths(policy.python_env)[1] + path
    env = {
        "PATH": ":".join(path),
        "HOME": SANDBOX_HOME,
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",  # noqa: S108 - the run's own scratch dir inside the sandbox
        "TERM": "dumb",
        "CI": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "NO_COLOR": "1",  # vitest, jest: output people and models read as text
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if policy.egress is not None:
        env.update(proxy_env())
    env.update(policy.env)
    return env


def write_scratch(scratch: Path, uid: int, gid: int) -> None:
    """Lay out a run's scratch dir: tmp/ (/tmp), tmp/home/, shm/ (/dev/shm), synthetic /etc."""
    (scratch / "tmp" / "home").mkdir(parents=True)
    (scratch / "shm").mkdir()
    etc = scratch / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(
        f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
        f"{SANDBOX_USER}:x:{uid}:{gid}:sandbox:{SANDBOX_HOME}:/bin/sh\n"
    )
    (etc / "group").write_text(f"root:x:0:\n{SANDBOX_USER}:x:{gid}:\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    program = seccomp_program()
    if program is not None:
        (scratch / "seccomp.bpf").write_bytes(program)


def open_seccomp(scratch: Path) -> int | None:
    """A read-only fd of the scratch dir's seccomp program for bwrap, or None without one."""
    path = scratch / "seccomp.bpf"
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC) if path.exists() else None


# --- the bwrap argv -----------------------------------------------------------------------


@dataclass(frozen=True)
class HostLayout:
    """Facts about the host that the argv depends on (read once by `read_host_layout`)."""

    links: Mapping[str, str]  # top-level symlinks such as bin -> usr/bin
    etc_present: frozenset[str]  # entries of ETC_ALLOW that exist


def read_host_layout() -> HostLayout:
    links = {n: os.readlink(f"/{n}") for n in SYSTEM_LINKS if os.path.islink(f"/{n}")}
    present = frozenset(n for n in ETC_ALLOW if os.path.exists(f"/etc/{n}"))
    return HostLayout(links=links, etc_present=present)


def dirs_to(path: Path) -> list[str]:
    """`--dir` for each missing ancestor, world-traversable (bwrap makes them 0700)."""
    args: list[str] = []
    for parent in reversed(path.parents):
        if str(parent) in ("/", "/usr"):
            continue
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def namespace_args(drop_to: tuple[int, int] | None) -> list[str]:
    """New PID, IPC, UTS (and, where the host allows, cgroup) namespaces. As root (`drop_to`
    given), the host user namespace, with what setpriv needs to drop to `drop_to`; else
    an unprivileged user namespace that may not make another."""
    if drop_to is not None:
        return [
            *("--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"),
            *("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"),
        ]
    return [
        *("--unshare-user", "--disable-userns", "--unshare-ipc", "--unshare-pid"),
        *("--unshare-uts", "--unshare-cgroup-try"),
    ]


def system_args(host: HostLayout) -> list[str]:
    """The host's toolchain read-only: `/usr`, the `/bin`, `/lib*` links, and the
    allow-listed `/etc` files (`ETC_ALLOW`: none that holds a secret)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_LINKS:
        if name in host.links:
            args += ["--symlink", host.links[name], f"/{name}"]
        else:
            args += ["--ro-bind-try", f"/{name}", f"/{name}"]
    args += ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/etc/ssl"]
    for name in sorted(host.etc_present):
        args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def drop_args(drop_to: tuple[int, int] | None) -> list[str]:
    """After bwrap's `--`, as root: setpriv to `drop_to` with no capabilities and
    `no_new_privs` (nothing without `drop_to`)."""
    if drop_to is None:
        return []
    return [
        "setpriv",
        f"--reuid={drop_to[0]}",
        f"--regid={drop_to[1]}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def bwrap_argv(
    bwrap: str,
    argv: tuple[str, ...],
    checkout: Path,
    scratch: Path,
    policy: SandboxPolicy,
    host: HostLayout,
    *,
    drop_to: tuple[int, int] | None,
    seccomp_fd: int | None = None,
    network: NetworkMode = NetworkMode.NONE,
    nproc_inside: str | None = None,
) -> list[str]:
    """The full command line: bwrap, its options, then (setpriv and) the command.

    `drop_to` is the (uid, gid) a root service drops to with setpriv; None when the
    service is not root and bwrap makes an unprivileged user namespace instead. With
    `nproc_inside` (the path of `prlimit`), RLIMIT_NPROC is set inside the sandbox's
    user namespace, where the kernel counts only that sandbox's tasks (`own_nproc_budget`).
    """
    args = [bwrap, "--die-with-parent", "--new-session", "--clearenv"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]  # app/sandbox/seccomp.py
    args += namespace_args(drop_to)
    if network is not NetworkMode.HOST:
        args += ["--unshare-net"]  # its own loopback only; the egress proxy is a socket
    for key, value in sandbox_env(policy).items():
        args += ["--setenv", key, value]
    args += ["--hostname", "sandbox", *system_args(host)]
    for name in ("passwd", "group", "hosts"):
        args += ["--ro-bind", str(scratch / "etc" / name), f"/etc/{name}"]
    if network is NetworkMode.EGRESS and policy.egress is not None:
        args += [*dirs_to(Path(EGRESS_DIR)), "--ro-bind", str(policy.egress), EGRESS_DIR]
    elif network is NetworkMode.HOST:
        args += ["--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # Sized tmpfs of the sandbox's own mount namespace: ENOSPC at the limit, and gone
    # with the sandbox. Their pages count against the command's memory cgroup.
    size = str(policy.limits.disk_bytes)
    args += ["--perms", "01777", "--size", size, "--tmpfs", "/tmp"]  # noqa: S108
    args += ["--perms", "01777", "--dir", SANDBOX_HOME]
    args += ["--perms", "01777", "--size", size, "--tmpfs", "/dev/shm"]  # noqa: S108
    # After /tmp: a toolchain that lives under /tmp (a checkout of the service there, its
    # virtualenv with it) must stay visible above the sandbox's own /tmp.
    extra = list(policy.ro_paths)
    if policy.python_env is not None:
        extra += python_env_paths(policy.python_env)[0]
    for path in dict.fromkeys(extra):
        if _under(path, Path("/usr")):
            continue
        args += [*dirs_to(path), "--ro-bind", str(path), str(path)]
    args += ["--bind", str(checkout), WORKSPACE, "--chdir", WORKSPACE]
    for bind in policy.binds:
        option = "--bind" if bind.writable else "--ro-bind"
        if not bind.inside.startswith(WORKSPACE + "/"):
            args += dirs_to(Path(bind.inside))
        args += [option, str(bind.host), bind.inside]
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--"]  # its own tmpfs: read-only
    args += drop_args(drop_to)
    if nproc_inside is not None:
        n = policy.limits.processes
        args += [nproc_inside, f"--nproc={n}:{n}", "--"]
    return [*args, *argv]


# --- limits -------------------------------------------------------------------------------


def rlimits(limits: SandboxLimits, nproc: int | None) -> list[tuple[int, tuple[int, int]]]:
    """(resource, (soft, hard)) pairs applied before bwrap starts.

    RLIMIT_NPROC counts every task of the real uid in a user namespace. `nproc` is the
    value for bwrap (the leased uid's budget as root); None leaves it as it is, when the
    budget is set inside the sandbox's own user namespace instead.
    """
    pairs = [
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5)),
        (resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)),
        (resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes)),
        (resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if nproc is not None:
        pairs.append((resource.RLIMIT_NPROC, (nproc, nproc)))
    return pairs


def own_nproc_budget(release: str) -> bool:
    """Does this kernel count RLIMIT_NPROC per user namespace (5.14+)? Then a sandbox in
    its own user namespace gets a process budget of its own even under a shared uid."""
    try:
        major, minor = (int(part) for part in release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 14)


def count_tasks_of(uid: int) -> int:
    """Processes and threads whose real uid is `uid` (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def limits_preexec(
    limits: SandboxLimits,
    nproc: int | None,
    join: Callable[[], None] | None = None,
    memory_cgroup: bool = False,
) -> Callable[[], None]:
    """setrlimit (and `join`: enter the run's cgroups) in the child before it execs.

    A non-root service cannot raise its own hard limits, so values are capped at them.
    With a memory cgroup holding the command's real memory, the address space is left
    alone: V8's WebAssembly (Vitest, esbuild) and Go reserve far more address space than
    they ever use, and fail under RLIMIT_AS ("Cannot allocate Wasm memory").
    """
    pairs = []
    for which, (soft, hard) in rlimits(limits, nproc):
        if memory_cgroup and which == resource.RLIMIT_AS:
            continue
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY and os.geteuid() != 0:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        pairs.append((which, (soft, hard)))

    def apply() -> None:  # runs in the child between fork and exec
        if join is not None:
            join()  # first: nothing this child forks may start outside the groups
        for which, values in pairs:
            resource.setrlimit(which, values)

    return apply
