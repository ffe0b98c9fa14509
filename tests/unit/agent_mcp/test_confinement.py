"""The jail of an operator's stdio MCP server: its bwrap argv, the paths its command
needs, and the refusal when it cannot be confined (built without starting a server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.agent_mcp import confinement
from app.agent_mcp.confinement import (
    ConfinementUnavailable,
    command_paths,
    confined_argv,
    probe_confinement,
)
from app.agent_mcp.doctor import check_mcp_servers
from app.agent_mcp.servers import McpServer
from app.agent_mcp.toolset import open_toolset
from app.sandbox.isolation import HostLayout

HOST = HostLayout(links={"bin": "usr/bin", "lib": "usr/lib"}, etc_present=frozenset({"localtime"}))
HOME = Path("/tmp/agentops-mcp-x1")


def build(drop: bool, read_only: tuple[Path, ...] = (Path("/opt/mcp"),)) -> list[str]:
    return confined_argv(
        "/usr/bin/bwrap",
        ["/opt/mcp/bin/server", "--root", "/srv/docs"],
        HOME,
        read_only,
        HOST,
        drop_to=(65534, 65534) if drop else None,
    )


def pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == option]


@pytest.mark.parametrize("drop", [True, False])
def test_its_own_namespaces_proc_dev_tmp_and_home(drop: bool) -> None:
    argv = build(drop)
    options = argv[: argv.index("--")]
    for option in ("--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc"):
        assert option in options
    assert {"--unshare-uts", "--unshare-cgroup-try"} <= set(options)
    assert "--unshare-net" in options  # a loopback of its own, unless given the network
    assert ("--unshare-user" in options) is not drop
    assert options[options.index("--proc") + 1] == "/proc"
    assert options[options.index("--dev") + 1] == "/dev"
    tmpfs = [options[i + 1] for i, a in enumerate(options) if a == "--tmpfs"]
    assert tmpfs == ["/tmp", "/dev/shm"]
    assert pairs(options, "--bind") == [(str(HOME), str(HOME))]  # the one writable place
    assert options[options.index("--chdir") + 1] == str(HOME)
    tail = argv[argv.index("--") + 1 :]
    if drop:
        assert tail[:3] == ["setpriv", "--reuid=65534", "--regid=65534"]
        assert {
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        } <= set(tail)
    assert tail[-3:] == ["/opt/mcp/bin/server", "--root", "/srv/docs"]
    # its limits, set after the drop (a process may lower its own), before its program
    limits = tail[tail.index("prlimit") : -3]
    assert limits == [
        "prlimit",
        f"--data={2048 * 1024 * 1024}",
        "--nproc=256",
        f"--fsize={1024 * 1024 * 1024}",
        "--core=0",
        "--",
    ]
    assert not drop or tail.index("prlimit") > tail.index("--no-new-privs")


def test_the_worker_s_network_only_when_the_operator_gives_it() -> None:
    argv = confined_argv(
        "/usr/bin/bwrap", ["/opt/mcp/bin/server"], HOME, (), HOST, drop_to=None, network=True
    )
    assert "--unshare-net" not in argv[: argv.index("--")]


def test_only_the_toolchain_and_its_program_read_only() -> None:
    argv = build(True, (Path("/opt/mcp"), Path("/usr/lib/node"), Path("/srv/docs")))
    options = argv[: argv.index("--")]
    binds = pairs(options, "--ro-bind")
    assert ("/usr", "/usr") in binds and ("/etc/localtime", "/etc/localtime") in binds
    assert ("/opt/mcp", "/opt/mcp") in binds and ("/srv/docs", "/srv/docs") in binds
    assert ("/usr/lib/node", "/usr/lib/node") not in binds  # under /usr: there already
    assert ("usr/bin", "/bin") in pairs(options, "--symlink")
    host_etc = {src for src, _ in binds + pairs(options, "--ro-bind-try") if src.startswith("/etc")}
    assert "/etc/shadow" not in host_etc and "/etc/resolv.conf" in host_etc
    bound = {src for src, _ in binds + pairs(options, "--ro-bind-try") + pairs(options, "--bind")}
    assert "/" not in bound and not any(
        b.startswith(("/root", "/home", "/var", "/run")) for b in bound
    )
    # /tmp is its own tmpfs before anything is laid over it
    assert options.index("--tmpfs") < options.index(str(HOME))
    assert options[-4:] == ["--remount-ro", "/", "--remount-ro", "/dev"]


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_virtualenv_program_brings_its_python(tmp_path: Path) -> None:
    python_home = tmp_path / "pythons" / "3.11"
    python = _script(python_home / "bin" / "python3.11", "\x7fELF")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(python)
    (venv / "pyvenv.cfg").write_text(f"home = {python_home / 'bin'}\n")
    program = _script(venv / "bin" / "mcp-server-fetch", f"#!{venv}/bin/python\nimport x\n")
    config = _script(tmp_path / "conf" / "fetch.toml", "")
    paths = command_paths([str(program), "--config", str(config), "/nonexistent"], "/usr/bin")
    assert paths == [venv, python_home, config]


def test_a_program_found_on_the_path_and_its_env_interpreter(tmp_path: Path) -> None:
    node = _script(tmp_path / "node" / "bin" / "node", "\x7fELF")
    _script(tmp_path / "node" / "bin" / "npx", "#!/usr/bin/env -S node --no-warnings\n")
    search = f"{tmp_path / 'node' / 'bin'}:/usr/bin"
    assert command_paths(["npx", "-y", "server"], search) == [tmp_path / "node"]
    assert node.exists()


def test_a_system_program_needs_nothing_and_a_missing_one_is_not_found() -> None:
    assert command_paths(["/bin/sleep", "60"], "/usr/bin") == []
    with pytest.raises(FileNotFoundError):
        command_paths(["/nonexistent/server"], "/usr/bin")
    with pytest.raises(FileNotFoundError):
        command_paths(["no-such-mcp-server"], "/usr/bin")


def test_a_program_whose_folder_holds_the_worker_s_is_refused(tmp_path: Path) -> None:
    program = _script(tmp_path / "agentops" / "server.sh", "#!/bin/sh\n")
    work = tmp_path / "agentops" / "runs"
    with pytest.raises(ConfinementUnavailable, match="holds the worker's own"):
        command_paths([str(program)], "/usr/bin", [work])


def test_without_bwrap_the_probe_says_what_to_do() -> None:
    said = probe_confinement(None)
    assert said is not None and "bubblewrap (bwrap) is not installed" in said
    assert "apt-get install bubblewrap" in said
    broken = probe_confinement("/bin/false")
    assert broken is not None and "cannot make the server's namespaces here" in broken


async def test_a_server_that_cannot_be_confined_is_not_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(confinement, "confinement_problem", lambda: "bwrap is not installed")
    marker = tmp_path / "started"
    server = McpServer.model_validate(
        {"command": ["/bin/touch", str(marker)], "tools": ["a"], "repos": ["*"]}
    )
    async with open_toolset({"docs": server}, {}) as tools:
        assert tools.specs == ()
        assert tools.notices == [
            "MCP server 'docs' left out: not started unconfined: bwrap is not installed"
        ]
    assert not marker.exists()
    said = await check_mcp_servers({"docs": server})
    assert said == [("docs", False, tools.notices[0])]  # `agentops doctor` says it too


@pytest.mark.parametrize("path", ["relative/docs", "/", "//"])
def test_read_only_paths_are_absolute_and_below_the_root(path: str) -> None:
    with pytest.raises(ValueError, match="read_only_paths"):
        McpServer.model_validate(
            {"command": ["/x"], "tools": ["a"], "repos": ["*"], "read_only_paths": [path]}
        )


def test_the_worker_s_workdir_and_key_folder_are_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTOPS_WORKDIR", str(tmp_path / "srv" / "work"))
    monkeypatch.setenv("AGENTOPS_GITHUB_PRIVATE_KEY_PATH", str(tmp_path / "keys" / "app.pem"))
    forbidden = confinement.worker_folders()
    for held in (tmp_path / "srv", tmp_path / "keys"):
        with pytest.raises(ConfinementUnavailable, match="holds the worker's own"):
            confinement.refuse_worker_folders([held], forbidden)
    confinement.refuse_worker_folders([tmp_path / "srv" / "docs"], forbidden)  # beside: fine
