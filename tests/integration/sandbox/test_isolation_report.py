"""What `agentops doctor` and the worker's start-up line say about the isolation in force:
read from this very machine (root with cgroup v1 here), and as a service that is not
root (uid 65534 through setpriv), where only rlimits are left."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from app.cli import main
from app.sandbox import SandboxLimits
from app.sandbox.cgroups import cgroup_support
from app.sandbox.report import isolation_report
from tests.integration.sandbox.repos import REPO_ROOT, SYSTEM_PYTHON, run_as_nobody

MiB = 1024**2


@pytest.mark.skipif(
    os.geteuid() != 0 or cgroup_support().version is None, reason="needs root and cgroups"
)
def test_root_with_cgroups_says_which_controllers_and_limits() -> None:
    limits = SandboxLimits(run_memory_bytes=512 * MiB, processes=64, cpus=1.5, disk_bytes=MiB)
    ok, text = isolation_report(limits)
    support = cgroup_support()
    assert ok is True
    assert f"cgroup {support.version} ({', '.join(support.controllers)})" in text
    assert "each test command as a whole gets memory 512 MiB, 64 processes" in text
    assert "/tmp and /dev/shm are 1 MiB tmpfs each" in text
    assert "the run's scratch area (the copies tests run on) is a 1 MiB tmpfs" in text


def test_doctor_prints_the_sandbox_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    monkeypatch.setenv("AGENTOPS_REDIS_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setenv("AGENTOPS_OLLAMA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AGENTOPS_SANDBOX_MEMORY_MB", "1024")
    main(["doctor"])
    lines = {line[5:].split(":", 1)[0]: line for line in capsys.readouterr().out.splitlines()}
    ok, expected = isolation_report(SandboxLimits(run_memory_bytes=1024 * MiB))
    mark = {True: "ok  ", False: "FAIL", None: "--  "}[ok]
    assert lines["sandbox"] == f"{mark} sandbox: {expected}"


SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from app.sandbox import SandboxLimits
from app.sandbox.report import isolation_report
print(json.dumps(isolation_report(SandboxLimits(processes=48))))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_a_service_that_is_not_root_is_told_what_rlimits_only_means() -> None:
    if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    with tempfile.TemporaryDirectory(prefix="agentops-report-") as tmp:
        os.chown(tmp, 65534, 65534)
        report = run_as_nobody(SCRIPT.format(root=str(REPO_ROOT)), Path(tmp))
    assert isinstance(report, list)
    ok, text = report
    assert ok is None
    assert text.startswith("bwrap in an unprivileged user namespace, as the service's uid")
    assert "rlimits only (no cgroups" in text
    assert "memory is limited per process" in text and "not per run" in text
    assert "48 processes per run (RLIMIT_NPROC counted in each run's own user namespace)" in text
    assert "the copies tests run on are not size-limited" in text
