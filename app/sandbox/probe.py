"""Does the sandbox work on this machine? Checked once per process, at start.

`probe_sandbox` runs `bwrap --ro-bind / / true`, then the real profile (the same argv,
seccomp filter and privilege drop as a test run) with `true`. `require_sandbox` turns
a failed probe into `SandboxUnavailable`, whose message tells the operator what to
install (or, in the image, how to run the container), unless unsandboxed runs are
explicitly allowed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.probe_cache import success_cached
from app.sandbox.isolation import (
    NOBODY,
    SandboxPolicy,
    bwrap_argv,
    open_seccomp,
    read_host_layout,
    write_scratch,
)


class SandboxUnavailable(RuntimeError):
    """Tests cannot run isolated here; the message tells the operator what to do."""


@dataclass(frozen=True)
class SandboxStatus:
    available: bool
    mode: str  # "setpriv" (root drops to a leased uid), "userns" (unprivileged) or "none"
    detail: str


UNSAFE_ESCAPE = (
    "to run tests without isolation (unsafe) set AGENTOPS_SANDBOX_ALLOW_UNSANDBOXED=true"
)
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`, or run "
    ".ci/system-deps), and allow user namespaces or run the worker as root; " + UNSAFE_ESCAPE
)
# The image sets AGENTOPS_IN_CONTAINER: there bwrap is installed, and what is missing is
# the container's permission to make a user namespace and mount a fresh /proc.
CONTAINER_HINT = (
    "this container may not make the sandbox's namespaces: run it with "
    "`--security-opt seccomp=seccomp-bwrap.json --security-opt systempaths=unconfined` "
    "(the profile: deploy/seccomp-bwrap.json, or /usr/local/share/agentops/ in the image; "
    "add `--security-opt apparmor=unconfined` where AppArmor is on; Kubernetes: "
    "`securityContext.seccompProfile` Localhost and `procMount: Unmasked`; README, "
    "Deploying), or `--privileged`; " + UNSAFE_ESCAPE
)


def operator_hint() -> str:
    """What the operator should do when the sandbox does not start, where it runs."""
    return CONTAINER_HINT if os.environ.get("AGENTOPS_IN_CONTAINER") else INSTALL_HINT


def _run_quietly(argv: list[str], pass_fds: tuple[int, ...] = ()) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=20, check=False, pass_fds=pass_fds
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stderr or done.stdout).strip()


@success_cached(lambda status: status.available)
def probe_sandbox() -> SandboxStatus:
    """Check that bwrap exists and that the real profile starts: once per process when it
    does, again a minute later when it does not (a failure may pass)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(False, "none", f"bwrap is not installed: {operator_hint()}")
    code, err = _run_quietly([bwrap, "--ro-bind", "/", "/", "true"])
    if code != 0:
        return SandboxStatus(
            False, "none", f"`bwrap --ro-bind / / true` failed ({err}); " + operator_hint()
        )
    root = os.geteuid() == 0
    if root and shutil.which("setpriv") is None:
        return SandboxStatus(False, "none", "setpriv (util-linux) is missing: " + operator_hint())
    policy = SandboxPolicy(python_env=Path(sys.prefix))
    with tempfile.TemporaryDirectory(prefix="agentops-probe-") as tmp:
        scratch, checkout = Path(tmp) / "scratch", Path(tmp) / "checkout"
        scratch.mkdir()
        checkout.mkdir()
        drop_to = (NOBODY, NOBODY) if root else None
        write_scratch(scratch, NOBODY if root else os.getuid(), NOBODY if root else os.getgid())
        fd = open_seccomp(scratch)
        try:
            argv = bwrap_argv(
                bwrap,
                ("true",),
                checkout,
                scratch,
                policy,
                read_host_layout(),
                drop_to=drop_to,
                seccomp_fd=fd,
            )
            code, err = _run_quietly(argv, () if fd is None else (fd,))
        finally:
            if fd is not None:
                os.close(fd)
    mode = "setpriv" if root else "userns"
    if code != 0:
        return SandboxStatus(
            False,
            mode,
            f"bwrap is installed but the sandbox does not start ({err}); " + operator_hint(),
        )
    return SandboxStatus(
        True,
        mode,
        f"bwrap works ({mode}: "
        + ("root drops to an unprivileged uid)" if root else "unprivileged user namespace)"),
    )


def probe_python(prefix: Path) -> tuple[bool, str]:
    """Whether the Python that runs repositories' tests has pytest, and what it is.

    Run on the host: the prefix is the operator's own virtualenv, not repository code.
    """
    code, out = _run_quietly(
        [
            str(prefix / "bin" / "python"),
            "-c",
            "import sys, pytest; print(sys.version.split()[0], pytest.__version__)",
        ]
    )
    if code != 0:
        return False, (
            f"{prefix} has no pytest: Python suites fail unless a repository's `setup:` "
            "installs it (`make sandbox-python` builds a virtualenv with pytest; point "
            "AGENTOPS_SANDBOX_PYTHON at it)"
        )
    python, pytest = out.split()[-2:]
    return True, f"{prefix}: Python {python}, pytest {pytest}"


def require_sandbox(allow_unsandboxed: bool) -> SandboxStatus:
    """The probe's status; raises `SandboxUnavailable` unless unsandboxed runs are allowed."""
    status = probe_sandbox()
    if not status.available and not allow_unsandboxed:
        raise SandboxUnavailable(f"refusing to run repository tests: {status.detail}")
    return status
