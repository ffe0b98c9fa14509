"""What `agentops_sandbox_*` count for real sandboxed commands: outcomes and limits hit."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

import app.metrics.sandbox  # noqa: F401  (what the worker imports: the counters)
from app.sandbox import run_sandboxed
from tests.integration.sandbox.repos import policy, write_repo


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_timeout_and_a_cut_output_are_counted(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {"hang.sh": "sleep 30\n", "flood.py": "for i in range(2000): print('x' * 50)\n"},
    )
    runs = {o: value("agentops_sandbox_runs_total", network="none", outcome=o)
            for o in ("timeout", "passed")}  # fmt: skip
    limits = {
        x: value("agentops_sandbox_limits_hit_total", limit=x) for x in ("wall_time", "output")
    }
    timed = await run_sandboxed(["sh", "hang.sh"], repo, policy(wall_seconds=1))
    cut = await run_sandboxed(
        ["python", "flood.py"], repo, policy(output_head_bytes=1000, output_tail_bytes=1000)
    )
    assert timed.timed_out and cut.passed and cut.output.omitted_bytes
    for outcome, before in runs.items():
        assert value("agentops_sandbox_runs_total", network="none", outcome=outcome) == before + 1
    for limit, before in limits.items():
        assert value("agentops_sandbox_limits_hit_total", limit=limit) == before + 1
    assert value("agentops_sandbox_seconds_count", network="none") >= 2
