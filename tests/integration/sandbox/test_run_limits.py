"""Limits on a sandboxed command as a whole: memory and processes through its own cgroup
(root on these machines: cgroup v1 memory and pids), disk through sized scratch space.

Each attack stays under every per-process rlimit, so only a limit on the whole command
stops it; the assertions look at the result the run reports and at the host afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.sandbox import LimitHit, run_sandboxed, run_tests
from app.sandbox.cgroups import (
    CgroupLimits,
    cgroup_support,
    create_run_cgroup,
    sweep_stale_groups,
)
from app.sandbox.disk import ensure_sized_scratch, release_sized_scratch
from app.sandbox.workcopy import TreeTooLarge
from tests.integration.sandbox.repos import PYTEST, policy, write_repo

MiB = 1024**2

needs_cgroups = pytest.mark.skipif(
    os.geteuid() != 0 or cgroup_support().version is None,
    reason=f"no writable cgroups here: {cgroup_support().describe()}",
)

# Four children of 150 MiB each: every one far below RLIMIT_AS, 600 MiB together.
FORKING_HOG = """
import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        hoard = bytearray(150 * 1024 * 1024)
        time.sleep(1.5)
        os._exit(0)
    children.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in children]
print("children", statuses)
raise SystemExit(0 if not any(statuses) else 1)
"""

# Forks as fast as it can for two seconds, silently (no error text to go by), then
# every process exits: only the pids cgroup can say that the limit was hit.
SILENT_FORK_BOMB = """
import os, sys, time
os.close(1); os.close(2)
deadline = time.monotonic() + 2
while time.monotonic() < deadline:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
os._exit(0)
"""

DISK_FILLER = """
import sys
target = sys.argv[1]
written = 0
try:
    with open(target, "wb") as out:
        for _ in range(200):
            out.write(b"x" * (1024 * 1024))
            out.flush()
            written += 1
except OSError as exc:
    print("stopped after", written, "MiB:", exc)
    raise SystemExit(1)
print("wrote", written, "MiB")
"""


def _gone(paths: tuple[str, ...]) -> None:
    assert paths, "the command ran without cgroups"
    for path in paths:
        assert not Path(path).exists(), f"cgroup left behind: {path}"


@needs_cgroups
async def test_a_memory_hog_is_killed_at_the_commands_memory_limit(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"hog.py": "hoard = bytearray(600 * 1024 * 1024)\n"})
    limited = policy(run_memory_bytes=200 * MiB, memory_bytes=4096 * MiB)
    result = await run_sandboxed(["python", "hog.py"], repo, limited)
    assert not result.passed
    assert result.oom_kills >= 1
    assert LimitHit.MEMORY in result.limits_hit
    assert result.summary().startswith("killed: out of memory"), result.summary()
    assert result.duration_seconds < 10
    _gone(result.cgroups)


@needs_cgroups
async def test_memory_of_all_processes_counts_together(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"hog.py": FORKING_HOG})
    limited = policy(run_memory_bytes=256 * MiB, memory_bytes=1024 * MiB)
    result = await run_sandboxed(["python", "hog.py"], repo, limited)
    assert not result.passed, result.output.text
    assert LimitHit.MEMORY in result.limits_hit
    assert "killed: out of memory" in result.summary()
    _gone(result.cgroups)


@needs_cgroups
async def test_a_fork_bomb_is_held_at_pids_max_and_nothing_survives(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"bomb.py": SILENT_FORK_BOMB})
    limits = policy(processes=24, wall_seconds=15)
    result = await run_sandboxed(["python", "bomb.py"], repo, limits)
    assert LimitHit.PROCESSES in result.limits_hit, result.summary()
    assert not result.timed_out
    assert result.duration_seconds < 10
    _gone(result.cgroups)
    assert result.run_as is not None
    assert not _tasks_of(result.run_as)


@needs_cgroups
async def test_another_command_is_unaffected_by_a_fork_bomb(tmp_path: Path) -> None:
    bomb = write_repo(tmp_path / "bomb", {"bomb.py": SILENT_FORK_BOMB})
    calm = write_repo(
        tmp_path / "calm",
        {
            "calm.py": """
            import subprocess, time
            time.sleep(0.5)
            for _ in range(10):
                subprocess.run(["true"], check=True)
            print("calm: ten processes started")
            """
        },
    )
    limits = policy(processes=24)
    bombed, other = await asyncio.gather(
        run_sandboxed(["python", "bomb.py"], bomb, limits),
        run_sandboxed(["python", "calm.py"], calm, limits),
    )
    assert LimitHit.PROCESSES in bombed.limits_hit
    assert other.passed, other.output.text
    assert "calm: ten processes started" in other.output.text


async def test_filling_tmp_or_dev_shm_stops_at_the_size_limit(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"fill.py": DISK_FILLER})
    before = shutil.disk_usage(tmp_path).free
    for target in ("/tmp/big", "/dev/shm/big", "/tmp/home/big"):
        result = await run_sandboxed(
            ["python", "fill.py", target], repo, policy(disk_bytes=16 * MiB)
        )
        assert not result.passed, result.output.text
        assert "No space left on device" in result.output.text
        assert LimitHit.DISK in result.limits_hit
        assert "limits hit: disk" in result.summary()
    assert before - shutil.disk_usage(tmp_path).free < 50 * MiB  # 600 MiB were attempted


@pytest.mark.skipif(os.geteuid() != 0, reason="a sized scratch area is mounted by root")
async def test_filling_the_checkout_in_a_sized_scratch_area_stops_there(tmp_path: Path) -> None:
    area = tmp_path / "scratch"
    assert ensure_sized_scratch(area, 24 * MiB)
    try:
        assert ensure_sized_scratch(area, 24 * MiB)  # a resumed run keeps its area
        repo = write_repo(area / "copy", {"fill.py": DISK_FILLER})
        before = shutil.disk_usage(tmp_path).free
        limited = replace(policy(disk_bytes=16 * MiB), scratch_root=area)
        result = await run_sandboxed(["python", "fill.py", "big.bin"], repo, limited)
        assert not result.passed, result.output.text
        assert "No space left on device" in result.output.text
        assert LimitHit.DISK in result.limits_hit
        assert (repo / "big.bin").stat().st_size <= 24 * MiB
        assert before - shutil.disk_usage(tmp_path).free < 50 * MiB
    finally:
        release_sized_scratch(tmp_path)
    assert not os.path.ismount(area)


@pytest.mark.skipif(os.geteuid() != 0, reason="a sized scratch area is mounted by root")
async def test_a_tree_larger_than_the_scratch_area_is_refused_clearly(tmp_path: Path) -> None:
    area = tmp_path / "scratch"
    assert ensure_sized_scratch(area, 4 * MiB)
    try:
        repo = write_repo(tmp_path / "repo", {"test_ok.py": "def test_ok():\n    pass\n"})
        (repo / "data.bin").write_bytes(b"\0" * (6 * MiB))
        with pytest.raises(TreeTooLarge):
            await run_tests(repo, PYTEST, policy=replace(policy(), scratch_root=area))
        assert list(area.iterdir()) == []  # the partial copy is gone too
    finally:
        release_sized_scratch(tmp_path)


def _tasks_of(uid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
    return found


@needs_cgroups
def test_empty_groups_a_killed_worker_left_are_swept_and_busy_ones_kept() -> None:
    support = cgroup_support()
    left = create_run_cgroup(support, CgroupLimits(64 * MiB, 8, 1.0))
    busy = create_run_cgroup(support, CgroupLimits(64 * MiB, 8, 1.0))
    assert left is not None and busy is not None
    left.close_fds()  # as if its worker had died: nothing will ever remove it
    sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=busy.join)
    try:
        assert sweep_stale_groups(support, older_than=3600) == 0  # too young to be stale
        # aged, rather than sweeping with no age limit: other test processes' workers have
        # young empty groups here that their commands are about to join
        an_hour_ago = time.time() - 3600
        for path in left.dirs.values():
            os.utime(path, (an_hour_ago, an_hour_ago))
        sweep_stale_groups(support)
        assert all(not path.exists() for path in left.dirs.values())
        assert all(path.exists() for path in busy.dirs.values())
    finally:
        sleeper.kill()
        sleeper.wait()
        busy.destroy()
    assert all(not path.exists() for path in busy.dirs.values())


@needs_cgroups
def test_the_cpu_quota_holds_two_busy_processes_to_a_quarter_of_a_cpu() -> None:
    group = create_run_cgroup(cgroup_support(), CgroupLimits(None, None, 0.25))
    assert group is not None and "cpu" in group.dirs
    spin = (
        "import os, time\n"
        "child = os.fork()\n"
        "end = time.monotonic() + 1.2\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
        "if child:\n"
        "    os.wait()\n"
    )
    try:
        before, started = os.times(), time.monotonic()
        busy = subprocess.run(
            ["python3", "-c", spin],
            preexec_fn=group.join,
            check=False,
        )
        after, wall = os.times(), time.monotonic() - started
    finally:
        group.destroy()
    used = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    assert busy.returncode == 0
    # two busy processes would use twice the wall time; the quota allows a quarter of it
    assert used <= 0.25 * wall + 0.15, f"{used:.2f} s of CPU in {wall:.2f} s at 0.25 CPU"
