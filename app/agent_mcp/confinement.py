"""The bubblewrap jail of an operator's stdio MCP server.

A server's arguments are chosen by a model, and an issue's author can steer the model:
a filesystem or fetch server must not be a way to read what the worker can. So every
stdio server runs under `bwrap`, built from the sandbox's own pieces
(app/sandbox/isolation.py):

- new PID, IPC, UTS and (where the host allows) cgroup namespaces, `--die-with-parent`,
  `--new-session`: the worker and every other process are not in its `/proc`, which is
  a fresh one, as is its minimal `/dev`;
- as root, setpriv drops it to a uid of its own, leased from the sandbox's pool
  (`lease_server_uid`: no other server or sandbox run shares it), with no capabilities
  and `no_new_privs`;
  otherwise an unprivileged user namespace (that may not make another) as the worker's uid;
- a fresh root with the host's `/usr`, the `/bin`, `/lib*` links and the sandbox's
  allow-list of `/etc` files (plus the files names and addresses are resolved with),
  read-only; the install prefix of the operator's program (its virtualenv with the Python
  it was made from, or e.g. its node prefix, and those of its script's interpreter),
  each file its arguments name by absolute path and each of its `read_only_paths`,
  read-only at the same path; a private tmpfs `/tmp` and `/dev/shm`; its own empty
  directory (connection.py) as `HOME` and working directory, the one place it writes
  that outlives a call;
- nothing else: not the worker's checkouts, its temporary folders, other runs' folders,
  its home or the service's configuration.

The network: a loopback of its own and nothing else (`--unshare-net`), unless the
operator gives it the worker's (`network: true`, for a server that calls an HTTP API):
then it reaches whatever the worker reaches, loopback services included (a Redis without
a password is the worker's queue, whose jobs the worker unpickles).

Resource limits, set by `prlimit` (util-linux) inside the jail after the drop, on the
server and all it starts (`ServerLimits`, per server in `AGENTOPS_MCP_SERVERS`):
`RLIMIT_DATA` (its writable memory, per process: an allocation past it fails, as a
`MemoryError` in Python; address space merely reserved, as V8 and Go do, is not counted),
`RLIMIT_NPROC` (processes and threads: a fork bomb's `fork` fails; counted in the jail's
user namespace, or as root for the server's leased uid, which nothing else uses),
`RLIMIT_FSIZE` (the largest file it writes) and no core file. Beyond them (guards.py):
the sandbox's seccomp filter (no user namespace of its own, no eBPF, io_uring, keyrings)
and, where the host gives cgroups, a group of its own that holds the memory, the tasks
and the CPU of all its processes together.

When bwrap is missing or cannot make these namespaces here, no stdio server is started
(`ConfinementUnavailable`, said by `agentops doctor` and in the run's log).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.agent_mcp.guards import Guards, make_guards
from app.probe_cache import success_cached
from app.sandbox.identity import UidLease, lease_uid
from app.sandbox.isolation import (
    NOBODY,
    SYSTEM_LINKS,
    HostLayout,
    SandboxPolicy,
    dirs_to,
    drop_args,
    namespace_args,
    python_env_paths,
    read_host_layout,
    system_args,
)

TMP_BYTES = 512 * 1024**2  # its /tmp and its /dev/shm, each
# what a client of the network needs beyond the sandbox's /etc (which has no network)
NETWORK_ETC = ("resolv.conf", "hosts", "host.conf", "gai.conf", "passwd", "group")
MAX_INTERPRETERS = 2  # a program's script interpreter, and that one's (`env` → node)
HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) and allow user "
    "namespaces, or run the worker as root (in a container: the sandbox's options, README, "
    "Deploying)"
)


class ConfinementUnavailable(RuntimeError):
    """A stdio MCP server cannot be started confined here; the message says why."""


@dataclass(frozen=True)
class ServerLimits:
    """The rlimits of each process of a server (hard and soft alike: it cannot raise them);
    memory, processes and CPU also of all of them together, in their cgroup (guards.py)."""

    memory_mb: int = 2048  # RLIMIT_DATA, and the group's memory
    processes: int = 256  # RLIMIT_NPROC, and the group's tasks
    file_mb: int = 1024  # RLIMIT_FSIZE
    cpus: float = 1.0  # the group's CPU time per wall-clock second

    def prlimit_args(self) -> list[str]:
        """`prlimit`, set to these limits, before the program it then runs."""
        return [
            "prlimit",
            f"--data={self.memory_mb * 1024 * 1024}",
            f"--nproc={self.processes}",
            f"--fsize={self.file_mb * 1024 * 1024}",
            "--core=0",
            "--",
        ]

    def said(self) -> str:
        return (
            f"{self.memory_mb} MB of memory, {self.processes} processes, files of {self.file_mb} MB"
        )

    def guards(self) -> Guards:
        """The seccomp filter and cgroup of one server with these limits (blocking)."""
        return make_guards(self.memory_mb * 1024 * 1024, self.processes, self.cpus)


def confined_argv(
    bwrap: str,
    command: Sequence[str],
    home: Path,
    read_only: Iterable[Path],
    host: HostLayout,
    *,
    drop_to: tuple[int, int] | None,
    network: bool = False,
    limits: ServerLimits = ServerLimits(),
    seccomp_fd: int | None = None,
) -> list[str]:
    """bwrap, its options, then the operator's `command`, which sees the host's
    toolchain, `read_only` and `home` (read-write, its working directory), nothing else;
    the worker's network only with `network`; within `limits`; the seccomp filter read
    from `seccomp_fd` (guards.py)."""
    args = [bwrap, "--die-with-parent", "--new-session"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += namespace_args(drop_to)
    if not network:
        args.append("--unshare-net")  # a loopback of its own
    args += ["--hostname", "mcp", *system_args(host)]
    for name in NETWORK_ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    size = str(TMP_BYTES)
    args += ["--perms", "01777", "--size", size, "--tmpfs", "/tmp"]  # noqa: S108
    args += ["--perms", "01777", "--size", size, "--tmpfs", "/dev/shm"]  # noqa: S108
    # after /tmp: a toolchain or the home under /tmp stays visible above its own /tmp
    for path in dict.fromkeys(read_only):
        if not _system(path):
            args += [*dirs_to(path), "--ro-bind", str(path), str(path)]
    args += [*dirs_to(home), "--bind", str(home), str(home), "--chdir", str(home)]
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--", *drop_args(drop_to)]
    return [*args, *limits.prlimit_args(), *command]


def command_paths(
    command: Sequence[str], search_path: str, forbidden: Iterable[Path] = ()
) -> list[Path]:
    """The host paths the operator's `command` needs, read-only: the install prefix of its
    program (found on `search_path` when not given by path) and of the interpreter its
    script names, and each file its arguments name by absolute path.

    `FileNotFoundError` when the program is not found; `ConfinementUnavailable` when a
    prefix would hold one of the `forbidden` folders (the worker's own)."""
    program = _which(command[0], search_path)
    paths: list[Path] = []
    for _ in range(MAX_INTERPRETERS + 1):
        paths += _install_paths(program)
        interpreter = _interpreter(program, search_path)
        if interpreter is None:
            break
        program = interpreter
    paths += [Path(a) for a in command[1:] if a.startswith("/") and os.path.isfile(a)]
    unique = list(dict.fromkeys(paths))
    refuse_worker_folders(unique, forbidden)
    return unique


def refuse_worker_folders(paths: Iterable[Path], forbidden: Iterable[Path]) -> None:
    """`ConfinementUnavailable` when one of `paths` is or holds a `forbidden` folder, as
    written, with its `..` taken out, or where its links lead (bwrap binds what a link
    leads to)."""
    folders = [form for folder in forbidden for form in _forms(folder)]
    for path in paths:
        for form in _forms(path):
            for folder in folders:
                if folder == form or form in folder.parents:
                    raise ConfinementUnavailable(
                        f"{path} holds the worker's own {folder}: install the server (and "
                        "what it reads) in a folder of its own"
                    )


def _forms(path: Path) -> list[Path]:
    """`path` as written, lexically normal, and resolved (its links followed)."""
    forms = [path, Path(os.path.normpath(path))]
    with contextlib.suppress(OSError, RuntimeError):  # a loop of links: refused as written
        forms.append(path.resolve())
    return list(dict.fromkeys(forms))


def worker_folders() -> list[Path]:
    """Folders a server's prefix may not hold: the root, the worker's working directory,
    home and temporary folder, its `AGENTOPS_WORKDIR` (where checkouts and runs live) and
    the folder of the App's private key."""
    folders = [Path("/"), Path.cwd(), Path(tempfile.gettempdir())]
    for name in ("HOME", "AGENTOPS_WORKDIR"):
        if os.environ.get(name):
            folders.append(Path(os.environ[name]))
    key = os.environ.get("AGENTOPS_GITHUB_PRIVATE_KEY_PATH")
    if key:
        folders.append(Path(key).parent)
    return [f.absolute() for f in folders]


def _which(program: str, search_path: str) -> Path:
    found = program if "/" in program else shutil.which(program, path=search_path)
    if found is None or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise FileNotFoundError(f"MCP server program {program!r} not found")
    return Path(os.path.abspath(found))


def _install_paths(program: Path) -> list[Path]:
    """A program's prefix (`…/bin/x` → `…`; else its folder), as given and as resolved;
    a virtualenv with the Python it was made from."""
    paths: list[Path] = []
    for path in dict.fromkeys((program, program.resolve())):
        if _system(path):
            continue
        prefix = path.parent.parent if path.parent.name in ("bin", "sbin") else path.parent
        if (prefix / "pyvenv.cfg").is_file():
            paths += python_env_paths(prefix)[0]
        else:
            paths.append(prefix)
    return paths


def _interpreter(program: Path, search_path: str) -> Path | None:
    """The interpreter of a script's `#!` line (`/usr/bin/env NAME` found on the path)."""
    try:
        with open(program, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    if not words:
        return None
    try:
        return _which(words[0], search_path)
    except FileNotFoundError:
        return None


def _system(path: Path) -> bool:
    """Under `/usr` or one of its top-level links: already there, read-only."""
    top = path.parts[1] if len(path.parts) > 1 else ""
    return top == "usr" or top in SYSTEM_LINKS


def jail_user() -> tuple[int, int] | None:
    """As root, the probe runs as `nobody` (a server, as its leased uid); otherwise as the
    worker's uid, in a user namespace of its own."""
    return (NOBODY, NOBODY) if os.geteuid() == 0 else None


def lease_server_uid() -> UidLease | None:
    """As root, a uid of the sandbox's pool for one server's life (`release()` after it
    ends), so that its `RLIMIT_NPROC` counts its own processes only; None otherwise."""
    if os.geteuid() != 0:
        return None
    pool = SandboxPolicy
    return lease_uid(pool.uid_pool_start, pool.uid_pool_size, pool.uid_lock_dir)


def probe_confinement(bwrap: str | None) -> str | None:
    """Why a server cannot be confined with `bwrap` here (the jail started with `true`),
    or None when it can."""
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed: {HINT}"
    root = jail_user()
    if root is not None and shutil.which("setpriv") is None:
        return f"setpriv (util-linux) is missing: {HINT}"
    if shutil.which("prlimit") is None:
        return "prlimit is missing: install util-linux (it sets the server's resource limits)"
    guards = ServerLimits().guards()  # the filter and the group are probed too
    try:
        with tempfile.TemporaryDirectory(prefix="agentops-mcp-probe-") as home:
            if root is not None:
                os.chown(home, *root)
            argv = confined_argv(
                bwrap,
                ["true"],
                Path(home),
                (),
                read_host_layout(),
                drop_to=root,
                seccomp_fd=guards.seccomp_fd,
            )
            done = subprocess.run(
                guards.wrap(argv), capture_output=True, text=True, timeout=20, check=False
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be run ({exc}): {HINT}"
    finally:
        guards.release()
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip()[:300]
        return f"bwrap cannot make the server's namespaces here ({why}): {HINT}"
    return None


@success_cached(lambda problem: problem is None)
def confinement_problem() -> str | None:
    """`probe_confinement` of the `bwrap` on PATH: once per process when it works, again a
    minute later when it does not."""
    return probe_confinement(shutil.which("bwrap"))


def confine(
    command: Sequence[str],
    home: Path,
    search_path: str,
    read_only: Iterable[Path] = (),
    *,
    network: bool = False,
    limits: ServerLimits = ServerLimits(),
    run_as: int | None = None,
    guards: Guards | None = None,
) -> list[str]:
    """The argv that starts `command` in its jail within `limits`, `home` made its own
    (blocking: files are read, the probe may run); `ConfinementUnavailable` when it cannot
    be confined. `run_as`: as root, the uid (and gid) it runs as (`lease_server_uid`);
    `guards`: its seccomp filter and cgroup (`ServerLimits.guards`)."""
    problem = confinement_problem()
    if problem is not None:
        raise ConfinementUnavailable(f"not started unconfined: {problem}")
    bwrap = shutil.which("bwrap")
    assert bwrap is not None  # the probe found it
    forbidden = worker_folders()
    paths = command_paths(command, search_path, forbidden)
    read_only = list(read_only)
    missing = [p for p in read_only if not p.exists()]
    if missing:
        raise ConfinementUnavailable(f"`read_only_paths`: {missing[0]} does not exist")
    refuse_worker_folders(read_only, forbidden)
    program = str(_which(command[0], search_path))  # the one found, not another inside
    user = jail_user()
    if user is not None and run_as is not None:
        user = (run_as, run_as)
    if user is not None:
        os.chown(home, *user)
    argv = confined_argv(
        bwrap,
        [program, *command[1:]],
        home,
        [*paths, *read_only],
        read_host_layout(),
        drop_to=user,
        network=network,
        limits=limits,
        seccomp_fd=guards.seccomp_fd if guards is not None else None,
    )
    return guards.wrap(argv) if guards is not None else argv
