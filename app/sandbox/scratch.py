"""Before and after one sandboxed command: scratch dir, argv, uid, tree ownership.

The tree a command runs on is always the run's own copy (app/sandbox/workcopy.py),
never the worker's checkout. As root, that copy is lent to the run's uid (chown) for the
command and given back afterwards, so the worker can delete it; the scratch dir (the
sandbox's /tmp, /dev/shm, synthetic /etc, seccomp program) is removed. Every step that
can fail undoes the ones before it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from app.sandbox.cgroups import CgroupLimits, RunCgroup, cgroup_support, create_run_cgroup
from app.sandbox.identity import UidLease, lease_uid
from app.sandbox.isolation import (
    SandboxPolicy,
    bwrap_argv,
    count_tasks_of,
    open_seccomp,
    own_nproc_budget,
    read_host_layout,
    sandbox_env,
    write_scratch,
)
from app.sandbox.network import NetworkMode, behind_forwarder, network_mode

log = logging.getLogger(__name__)


@dataclass
class PreparedRun:
    command: tuple[str, ...]
    checkout: Path
    scratch: Path
    sandboxed: bool
    full: list[str] = field(default_factory=list)  # what is executed (bwrap …)
    cwd: Path = Path("/")
    env: dict[str, str] = field(default_factory=dict)
    nproc: int | None = None  # RLIMIT_NPROC for bwrap; None: set inside the sandbox
    cgroup: RunCgroup | None = None  # the command's own cgroups, when the host gives them
    network: NetworkMode = NetworkMode.NONE
    run_as: int | None = None  # the host uid the command runs as (root mode)
    lease: UidLease | None = None  # that uid's lease
    lent_from: tuple[int, int] | None = None  # the checkout's owner while lent out
    lent_binds: list[Path] = field(default_factory=list)  # writable binds, root's again after
    seccomp_fd: int | None = None  # the filter bwrap reads

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return () if self.seccomp_fd is None else (self.seccomp_fd,)


def prepare_run(
    command: tuple[str, ...], checkout: Path, policy: SandboxPolicy, sandboxed: bool
) -> PreparedRun:
    checkout = checkout.resolve(strict=True)
    scratch = Path(tempfile.mkdtemp(prefix="agentops-sandbox-", dir=policy.scratch_root))
    run = PreparedRun(command, checkout, scratch, sandboxed)
    try:
        if policy.cgroups:
            limits = policy.limits
            run.cgroup = create_run_cgroup(
                cgroup_support(policy.cgroup_parent),
                CgroupLimits(limits.run_memory_bytes, limits.processes, limits.cpus),
            )
        if sandboxed:
            _prepare_sandboxed(run, policy)
        else:
            _prepare_unsandboxed(run, policy)
    except BaseException:
        clean_up_run(run)
        raise
    return run


def _prepare_unsandboxed(run: PreparedRun, policy: SandboxPolicy) -> None:
    log.warning("running %s WITHOUT a sandbox (allowed by configuration)", run.command)
    write_scratch(run.scratch, os.getuid(), os.getgid())
    run.full, run.cwd = list(run.command), run.checkout
    run.env = sandbox_env(policy) | {
        "HOME": str(run.scratch / "tmp" / "home"),
        "TMPDIR": str(run.scratch / "tmp"),
    }
    tasks_already = 0 if os.geteuid() == 0 else count_tasks_of(os.getuid())
    run.nproc = policy.limits.processes + tasks_already
    run.network = NetworkMode.HOST


def _prepare_sandboxed(run: PreparedRun, policy: SandboxPolicy) -> None:
    root = os.geteuid() == 0
    prlimit: str | None = None
    run.nproc = policy.limits.processes
    if not root:  # userns mode: the service's own uid inside
        uid, gid = os.getuid(), os.getgid()
        prlimit = shutil.which("prlimit")  # must be visible inside: /usr is
        if (
            prlimit is not None
            and prlimit.startswith(("/usr/", "/bin/"))
            and own_nproc_budget(os.uname().release)
        ):
            run.nproc = None  # counted in the sandbox's own user namespace
        else:  # the uid's tasks everywhere share the budget: count them in
            prlimit = None
            run.nproc = policy.limits.processes + count_tasks_of(uid)
    elif policy.uid is None:
        run.lease = lease_uid(policy.uid_pool_start, policy.uid_pool_size, policy.uid_lock_dir)
        uid = gid = run.run_as = run.lease.uid
    else:
        uid, gid = policy.uid, policy.gid if policy.gid is not None else policy.uid
        run.run_as = uid
    write_scratch(run.scratch, uid, gid)
    run.seccomp_fd = open_seccomp(run.scratch)
    run.network = network_mode(policy.egress is not None)
    command = run.command
    if run.network is NetworkMode.EGRESS:
        command = behind_forwarder(command)
    run.full = bwrap_argv(
        shutil.which("bwrap") or "bwrap",
        command,
        run.checkout,
        run.scratch,
        policy,
        read_host_layout(),
        drop_to=(uid, gid) if root else None,
        seccomp_fd=run.seccomp_fd,
        network=run.network,
        nproc_inside=prlimit,
    )
    run.cwd = run.scratch
    run.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # bwrap's; --clearenv inside
    if root:
        owner = run.checkout.stat()
        run.lent_from = (owner.st_uid, owner.st_gid)  # from here on clean-up gives it back
        chown_tree(run.checkout, uid, gid)
        for bind in policy.binds:  # a prepare phase's output directory: lent the same way
            if bind.writable:
                run.lent_binds.append(bind.host)
                chown_tree(bind.host, uid, gid)


def clean_up_run(run: PreparedRun) -> None:
    if run.seccomp_fd is not None:
        with contextlib.suppress(OSError):
            os.close(run.seccomp_fd)
    run.seccomp_fd = None
    if run.cgroup is not None:  # before the uid goes back to the pool: nothing survives
        try:
            run.cgroup.destroy()
        except OSError as exc:
            log.error("sandbox cgroup not removed: %s", exc)
        run.cgroup = None
    if run.lent_from is not None:
        chown_tree(run.checkout, *run.lent_from)
        run.lent_from = None
    while run.lent_binds:
        chown_tree(run.lent_binds.pop(), 0, 0)
    shutil.rmtree(run.scratch, ignore_errors=True)
    if run.lease is not None:  # last: no file of the run is owned by the uid any more
        run.lease.release()


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """lchown `root` and everything under it (symlinks themselves, never their targets)."""
    os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):
                os.lchown(os.path.join(dirpath, name), uid, gid)
