"""The operator's caps on what `.agentops.yml` `limits:` may ask for (pure)."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.repo_config import RepoLimits, cap_repo_limits
from app.workflow.sandbox_policy import sandbox_limits

MiB = 1024**2


def test_values_above_a_cap_are_lowered_and_each_is_said() -> None:
    asked = RepoLimits(test_timeout_seconds=3600, max_turns=200, max_tokens=5_000_000)
    caps = {"test_timeout_seconds": 900, "max_turns": 50, "max_tokens": 5_000_000}
    capped, notices = cap_repo_limits(asked, caps)
    assert (capped.test_timeout_seconds, capped.max_turns, capped.max_tokens) == (
        900,
        50,
        5_000_000,
    )
    assert notices == [
        "`limits.test_timeout_seconds: 3600` in .agentops.yml is above what this "
        "installation allows; 900 is used",
        "`limits.max_turns: 200` in .agentops.yml is above what this installation allows; "
        "50 is used",
    ]


def test_values_within_the_caps_are_kept() -> None:
    asked = RepoLimits(test_timeout_seconds=60, max_test_runs=3)
    capped, notices = cap_repo_limits(asked, Settings().repo_limit_caps)
    assert capped == asked
    assert notices == []


def test_caps_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AGENTOPS_MAX_TEST_TIMEOUT_SECONDS": "120",
        "AGENTOPS_MAX_TURNS": "10",
        "AGENTOPS_MAX_TOKENS": "50000",
        "AGENTOPS_MAX_TEST_RUNS": "2",
        "AGENTOPS_MAX_SUITE_CHECK_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    assert Settings().repo_limit_caps == {
        "test_timeout_seconds": 120,
        "max_turns": 10,
        "max_tokens": 50_000,
        "max_test_runs": 2,
        "suite_check_seconds": 0,
    }


def test_sandbox_limits_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOPS_SANDBOX_MEMORY_MB", "512")
    monkeypatch.setenv("AGENTOPS_SANDBOX_PROCESSES", "64")
    monkeypatch.setenv("AGENTOPS_SANDBOX_CPUS", "0.5")
    monkeypatch.setenv("AGENTOPS_SANDBOX_DISK_MB", "100")
    from app.repo_config import RepoConfig

    limits = sandbox_limits(Settings(), RepoConfig(limits=RepoLimits(test_timeout_seconds=42)))
    assert limits.wall_seconds == 42
    assert (limits.run_memory_bytes, limits.processes, limits.cpus) == (512 * MiB, 64, 0.5)
    assert limits.disk_bytes == limits.file_size_bytes == 100 * MiB
