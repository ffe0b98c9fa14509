"""Finding this process's cgroups and the values written for a run (pure parts)."""

from __future__ import annotations

from pathlib import Path

from app.sandbox.cgroups import (
    CgroupLimits,
    CgroupMount,
    CgroupSupport,
    detect_cgroups,
    limit_writes,
    own_dir,
    parse_mountinfo,
    parse_proc_cgroup,
)

PROC_CGROUP = """9:name=systemd:/
8:pids:/
4:memory:/process_api/85de
2:cpu,cpuacct:/svc
0::/
"""
MOUNTINFO = """31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 /docker/abc /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
"""


def test_proc_cgroup_by_controller() -> None:
    found = parse_proc_cgroup(PROC_CGROUP)
    assert found["memory"] == "/process_api/85de"
    assert found["cpu"] == found["cpuacct"] == "/svc"
    assert found[""] == "/"
    assert found["name=systemd"] == "/"


def test_mountinfo_keeps_cgroup_mounts_only() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert [m.fstype for m in mounts] == ["cgroup", "cgroup", "cgroup", "cgroup2"]
    assert mounts[0].options >= {"cpu", "cpuacct"}
    assert mounts[2].root == "/docker/abc"
    assert mounts[3].point == Path("/sys/fs/cgroup/unified")


def test_own_dir_under_a_mount_of_part_of_the_hierarchy() -> None:
    mount = CgroupMount("cgroup", "/docker/abc", Path("/sys/fs/cgroup/pids"), frozenset())
    assert own_dir(mount, "/docker/abc/run") == Path("/sys/fs/cgroup/pids/run")
    assert own_dir(mount, "/docker/abc") == Path("/sys/fs/cgroup/pids")
    assert own_dir(mount, "/docker/abcdef") is None  # not under the mounted part
    whole = CgroupMount("cgroup", "/", Path("/sys/fs/cgroup/memory"), frozenset())
    assert own_dir(whole, "/process_api/85de") == Path("/sys/fs/cgroup/memory/process_api/85de")


def test_v1_writes_memory_then_memsw_pids_and_a_cfs_quota() -> None:
    writes = limit_writes("v1", CgroupLimits(256 << 20, 64, 1.5))
    assert writes["memory"] == [
        ("memory.limit_in_bytes", str(256 << 20)),
        ("memory.memsw.limit_in_bytes", str(256 << 20)),
    ]
    assert writes["pids"] == [("pids.max", "64")]
    assert writes["cpu"] == [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "150000")]


def test_v2_writes_max_files() -> None:
    writes = limit_writes("v2", CgroupLimits(1 << 30, 100, 0.5))
    assert writes["memory"] == [("memory.max", str(1 << 30)), ("memory.swap.max", "0")]
    assert writes["pids"] == [("pids.max", "100")]
    assert writes["cpu"] == [("cpu.max", "50000 100000")]
    assert limit_writes("v2", CgroupLimits(None, None, None)) == {}


def test_describe() -> None:
    bases = {"memory": Path("/m"), "pids": Path("/p")}
    assert CgroupSupport("v1", bases, "no v1 cpu hierarchy").describe() == (
        "cgroup v1 (memory, pids); no v1 cpu hierarchy"
    )
    assert CgroupSupport(None, why_not="cgroup v2 not delegated").describe() == (
        "no cgroups (cgroup v2 not delegated)"
    )


def test_a_configured_v2_directory_is_used_and_its_controllers_enabled(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    support = detect_cgroups(tmp_path)
    assert support.version == "v2"
    assert support.bases == {"memory": tmp_path, "pids": tmp_path, "cpu": tmp_path}
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"


def test_a_configured_v2_directory_without_a_controller_says_which(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    (tmp_path / "cgroup.subtree_control").write_text("cpu\n")
    support = detect_cgroups(tmp_path)
    assert support.version is None
    assert support.describe() == (
        f"no cgroups (cgroup v2 not delegated ({tmp_path}: controllers memory, pids not available))"
    )
