"""The shell that starts a stdio server's jail (app/agent_mcp/guards.py): it joins the
server's cgroup with its own pid, which the jail keeps (exec), hands bwrap the seccomp
filter as fd 3, and starts nothing when it cannot join."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.agent_mcp.guards import JOIN_FAILED, SECCOMP_FD, Guards
from app.sandbox.cgroups import RunCgroup


def test_the_jail_starts_in_the_group_with_the_filter_open(tmp_path: Path) -> None:
    group = tmp_path / "group"
    group.mkdir()
    (group / "cgroup.procs").write_text("")
    seccomp = tmp_path / "seccomp.bpf"
    seccomp.write_bytes(b"the filter")
    guards = Guards(seccomp, RunCgroup("v2", {"memory": group, "pids": group}))
    assert guards.seccomp_fd == SECCOMP_FD
    argv = guards.wrap(["/bin/sh", "-c", f"echo $$; cat <&{SECCOMP_FD}", "a b"])
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    pid, read = done.stdout.split("\n", 1)
    assert (group / "cgroup.procs").read_text() == f"{pid}\n"  # once: the same directory
    assert read == "the filter"


def test_nothing_starts_when_the_group_cannot_be_joined(tmp_path: Path) -> None:
    guards = Guards(None, RunCgroup("v1", {"memory": tmp_path / "gone"}))
    assert guards.seccomp_fd is None
    marker = tmp_path / "started"
    done = subprocess.run(
        guards.wrap(["/usr/bin/touch", str(marker)]), capture_output=True, check=False
    )
    assert done.returncode == JOIN_FAILED
    assert not marker.exists()


def test_without_a_filter_or_a_group_it_runs_the_jail_as_given(tmp_path: Path) -> None:
    done = subprocess.run(
        Guards(None, None).wrap(["/bin/echo", "--", "-n", "x y"]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == "-- -n x y\n"
