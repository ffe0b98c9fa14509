"""deploy/seccomp-bwrap.json: what bwrap needs in a container is allowed, and what
Docker's default profile refuses stays refused (the image test proves it works)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROFILE = Path(__file__).resolve().parents[3] / "deploy" / "seccomp-bwrap.json"


def _profile() -> dict[str, Any]:
    profile: dict[str, Any] = json.loads(PROFILE.read_text())
    return profile


def _allowed() -> set[str]:
    return {
        name
        for rule in _profile()["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]
    }


def test_it_is_an_allowlist() -> None:
    assert _profile()["defaultAction"] == "SCMP_ACT_ERRNO"


def test_what_bwrap_needs_is_allowed() -> None:
    needed = {"clone", "clone3", "unshare", "mount", "umount2", "pivot_root", "sethostname"}
    assert needed <= _allowed()
    assert {"read", "write", "execve", "openat", "exit_group"} <= _allowed()


def test_what_no_sandbox_needs_is_refused() -> None:
    refused = {
        "init_module", "finit_module", "kexec_load", "bpf", "perf_event_open", "keyctl",
        "add_key", "open_by_handle_at", "setns", "reboot", "swapon", "userfaultfd",
        "io_uring_setup", "fsopen", "move_mount", "chroot", "clock_settime",
    }  # fmt: skip
    assert refused & _allowed() == set()


def test_personality_is_allowed_only_with_the_values_dockers_default_allows() -> None:
    assert "personality" not in _allowed()  # never with any argument
    values = sorted(
        arg["value"]
        for rule in _profile()["syscalls"]
        if rule["names"] == ["personality"] and rule["action"] == "SCMP_ACT_ALLOW"
        for arg in rule["args"]
        if arg["index"] == 0 and arg["op"] == "SCMP_CMP_EQ"
    )
    assert values == [0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF]
    assert 0x0040000 not in values  # ADDR_NO_RANDOMIZE: randomisation stays on
