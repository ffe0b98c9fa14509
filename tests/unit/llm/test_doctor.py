"""`agentops doctor` checks only what is configured: no forge is a note, not a failure."""

from __future__ import annotations

import argparse

import pytest

from app.cli import llm_commands
from app.config import Settings
from app.llm.doctor import Check, check_forges_if_available


async def test_no_forge_configured_is_informational() -> None:
    checks = await check_forges_if_available(Settings())
    assert [(c.name, c.ok) for c in checks] == [("forge none", None)]
    assert "no forge configured" in checks[0].message
    assert llm_commands.format_check(checks[0]).startswith("--   forge none: ")


def _doctor_exit_code(monkeypatch: pytest.MonkeyPatch, checks: list[Check]) -> int:
    async def run_checks(settings: Settings) -> list[Check]:
        return checks

    monkeypatch.setattr(llm_commands, "load_settings", Settings)
    monkeypatch.setattr(llm_commands, "run_checks", run_checks)
    return llm_commands.cmd_doctor(argparse.Namespace())


def test_doctor_succeeds_when_only_informational_lines_are_not_ok(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = [
        Check("database", True, "reachable, migrated"),
        Check("forge none", None, "no forge configured"),
        Check("php", None, "not found"),
    ]
    assert _doctor_exit_code(monkeypatch, checks) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1] == "--   forge none: no forge configured"
    assert err == ""


def test_doctor_fails_when_a_configured_part_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = [Check("forge none", None, "no forge"), Check("redis", False, "unreachable")]
    assert _doctor_exit_code(monkeypatch, checks) == 1
