"""The bwrap command line and the sandbox environment, built without running anything."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from app.sandbox import SandboxLimits, SandboxPolicy
from app.sandbox.isolation import (
    Bind,
    HostLayout,
    bwrap_argv,
    count_tasks_of,
    own_nproc_budget,
    python_env_paths,
    rlimits,
    sandbox_env,
)
from app.sandbox.network import EGRESS_DIR, NetworkMode, behind_forwarder

HOST = HostLayout(links={"bin": "usr/bin", "lib": "usr/lib"}, etc_present=frozenset({"localtime"}))


def build(policy: SandboxPolicy, *, drop: bool = True) -> list[str]:
    return bwrap_argv(
        "/usr/bin/bwrap",
        ("pytest", "-q"),
        Path("/runs/r1/repo"),
        Path("/tmp/s1"),
        policy,
        HOST,
        drop_to=(65534, 65534) if drop else None,
    )


def pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == option]


def test_isolation_options_as_root() -> None:
    argv = build(SandboxPolicy())
    for option in (
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
    ):
        assert option in argv
    assert "--unshare-user" not in argv  # root keeps the host namespace and drops with setpriv
    tail = argv[argv.index("--") + 1 :]
    assert tail[:2] == ["setpriv", "--reuid=65534"]
    assert {"--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"} <= set(
        tail
    )
    assert tail[-2:] == ["pytest", "-q"]


def test_seccomp_program_is_read_from_a_passed_fd() -> None:
    argv = bwrap_argv(
        "bwrap",
        ("true",),
        Path("/r"),
        Path("/s"),
        SandboxPolicy(),
        HOST,
        drop_to=(65534, 65534),
        seccomp_fd=7,
    )
    assert argv[argv.index("--seccomp") + 1] == "7"
    assert "--seccomp" not in build(SandboxPolicy())


def test_unprivileged_service_uses_a_user_namespace() -> None:
    argv = build(SandboxPolicy(), drop=False)
    assert "--unshare-user" in argv
    assert "--disable-userns" in argv  # no nested user namespaces
    assert "setpriv" not in argv
    assert "--cap-add" not in argv


def test_mounts() -> None:
    argv = build(SandboxPolicy())
    assert ("/usr", "/usr") in pairs(argv, "--ro-bind")
    assert ("usr/bin", "/bin") in pairs(argv, "--symlink")
    assert ("/etc/localtime", "/etc/localtime") in pairs(argv, "--ro-bind")
    assert ("/tmp/s1/etc/passwd", "/etc/passwd") in pairs(argv, "--ro-bind")
    assert pairs(argv, "--bind") == [("/runs/r1/repo", "/workspace")]
    assert argv[argv.index("--") - 4 : argv.index("--")] == [
        "--remount-ro",
        "/",
        "--remount-ro",
        "/dev",
    ]
    mounted = {dest for _, dest in pairs(argv, "--ro-bind") + pairs(argv, "--bind")}
    for hidden in ("/", "/root", "/home", "/var", "/run", "/etc", "/runs", "/sys"):
        assert hidden not in mounted
    assert ("/etc/shadow", "/etc/shadow") not in pairs(argv, "--ro-bind")


def test_network_modes() -> None:
    def with_network(mode: NetworkMode, egress: Path | None = None) -> list[str]:
        return bwrap_argv(
            "bwrap",
            ("pip", "install", "x"),
            Path("/r"),
            Path("/s"),
            SandboxPolicy(egress=egress),
            HOST,
            drop_to=(1, 1),
            network=mode,
        )

    host = with_network(NetworkMode.HOST)
    assert "--unshare-net" not in host
    assert ("/etc/resolv.conf", "/etc/resolv.conf") in pairs(host, "--ro-bind-try")
    egress = with_network(NetworkMode.EGRESS, Path("/runs/r1/prepare/egress"))
    assert "--unshare-net" in egress  # its own namespace: the proxy is a socket, not a route
    assert ("/runs/r1/prepare/egress", EGRESS_DIR) in pairs(egress, "--ro-bind")
    assert not [a for a in egress if "resolv.conf" in a]  # no DNS: the proxy resolves
    none = with_network(NetworkMode.NONE)
    assert "--unshare-net" in none
    assert not [a for a in none if "resolv.conf" in a or a == EGRESS_DIR]


def test_prepare_commands_start_behind_the_forwarder() -> None:
    argv = behind_forwarder(("pip", "install", "x"))
    assert argv[:2] == ("/bin/sh", "-c")
    assert argv[-3:] == ("pip", "install", "x")
    assert f"UNIX-CONNECT:{EGRESS_DIR}/proxy.sock" in argv[2]
    assert "TCP-LISTEN:3128,bind=127.0.0.1" in argv[2]


def test_binds_lay_over_the_workspace_read_only_unless_writable() -> None:
    argv = build(
        SandboxPolicy(
            binds=(
                Bind(Path("/cache/t/k/deps"), "/deps"),
                Bind(Path("/cache/t/k/deps/node_modules"), "/workspace/node_modules"),
                Bind(Path("/runs/r1/prepare/deps"), "/out", writable=True),
            )
        )
    )
    workspace = argv.index("/workspace")
    ro = pairs(argv, "--ro-bind")
    assert ("/cache/t/k/deps", "/deps") in ro
    assert ("/cache/t/k/deps/node_modules", "/workspace/node_modules") in ro
    assert ("/runs/r1/prepare/deps", "/out") in pairs(argv, "--bind")
    assert argv.index("/workspace/node_modules") > workspace  # over the copy, not under it


def test_egress_sets_the_proxy_variables_and_nothing_else_does() -> None:
    assert "HTTPS_PROXY" not in sandbox_env(SandboxPolicy())
    env = sandbox_env(SandboxPolicy(egress=Path("/e")))
    assert env["HTTPS_PROXY"] == env["npm_config_https_proxy"] == "http://127.0.0.1:3128"


def test_python_env_is_read_only_with_traversable_parents(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    base = tmp_path / "pythons" / "3.11"
    (base / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\n")
    paths, bins = python_env_paths(venv)
    assert paths == [venv, base]
    assert bins == [str(venv / "bin")]
    argv = build(SandboxPolicy(python_env=venv))
    assert (str(venv), str(venv)) in pairs(argv, "--ro-bind")
    assert (str(base), str(base)) in pairs(argv, "--ro-bind")
    perms = [argv[i + 3] for i, a in enumerate(argv) if a == "--perms" and argv[i + 1] == "0755"]
    assert str(tmp_path) in perms
    assert sandbox_env(SandboxPolicy(python_env=venv))["PATH"].startswith(f"{venv}/bin:")


def test_environment_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOPS_GITHUB_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    env = sandbox_env(SandboxPolicy(env={"NODE_ENV": "test"}))
    assert "s3cret" not in env.values()
    assert set(env) == {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "TMPDIR",
        "TERM",
        "CI",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "GIT_CONFIG_NOSYSTEM",
        "NO_COLOR",
        "NODE_ENV",
    }
    argv = build(SandboxPolicy())
    assert "s3cret" not in " ".join(argv)


def test_tmp_and_shm_are_sized_tmpfs_of_the_sandbox() -> None:
    argv = build(SandboxPolicy(limits=SandboxLimits(disk_bytes=5 << 20)))
    tmpfs = [i for i, a in enumerate(argv) if a == "--tmpfs"]
    assert [argv[i + 1] for i in tmpfs] == ["/tmp", "/dev/shm"]
    for at in tmpfs:
        assert argv[at - 4 : at] == ["--perms", "01777", "--size", str(5 << 20)]
    home = len(argv) - 1 - argv[::-1].index("/tmp/home")
    assert argv[home - 3 : home] == [
        "--perms",
        "01777",
        "--dir",
    ]


def test_rlimits() -> None:
    limits = dict(rlimits(SandboxLimits(cpu_seconds=7, memory_bytes=1 << 30), nproc=64))
    assert limits[resource.RLIMIT_CPU] == (7, 12)
    assert limits[resource.RLIMIT_AS] == (1 << 30, 1 << 30)
    assert limits[resource.RLIMIT_NPROC] == (64, 64)
    assert limits[resource.RLIMIT_CORE] == (0, 0)
    inside = dict(rlimits(SandboxLimits(processes=64), nproc=None))
    assert resource.RLIMIT_NPROC not in inside  # set in the sandbox's user namespace


def test_process_budget_inside_the_user_namespace() -> None:
    policy = SandboxPolicy(limits=SandboxLimits(processes=40))
    argv = bwrap_argv(
        "/usr/bin/bwrap",
        ("pytest", "-q"),
        Path("/runs/r1/repo"),
        Path("/tmp/s1"),
        policy,
        HOST,
        drop_to=None,
        nproc_inside="/usr/bin/prlimit",
    )
    tail = argv[argv.index("--") + 1 :]
    assert tail == ["/usr/bin/prlimit", "--nproc=40:40", "--", "pytest", "-q"]


@pytest.mark.parametrize(
    ("release", "own"),
    [("6.18.44-fc", True), ("5.14.0", True), ("5.13.19", False), ("4.19.0", False), ("x", False)],
)
def test_own_nproc_budget_from_kernel_5_14(release: str, own: bool) -> None:
    assert own_nproc_budget(release) is own


def test_count_tasks_of_counts_threads_of_a_uid() -> None:
    import os
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert count_tasks_of(os.getuid()) >= 2  # this process alone has two threads now
        assert count_tasks_of(2**31 - 7) == 0  # nobody runs as this uid
    finally:
        stop.set()
        thread.join()
