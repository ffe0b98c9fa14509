"""Sandbox runs (repositories' commands) by network and outcome, their time, and the
limits they hit (wall time, CPU, memory, processes, disk, output cut)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from app.metrics.labels import bounded
from app.sandbox.execution import on_sandbox_run

if TYPE_CHECKING:
    from app.sandbox.execution import SandboxResult

NETWORKS = frozenset({"none", "egress", "host"})
LIMITS = frozenset({"wall_time", "cpu_time", "memory", "processes", "disk", "output"})

RUNS = Counter(
    "agentops_sandbox_runs",
    "Commands run in the sandbox by network (none, egress, host) and outcome.",
    ["network", "outcome"],
)
SECONDS = Histogram(
    "agentops_sandbox_seconds",
    "Time of one command in the sandbox.",
    ["network"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
LIMITS_HIT = Counter("agentops_sandbox_limits_hit", "Sandbox limits hit, by limit.", ["limit"])


def observe_sandbox_run(result: SandboxResult) -> None:
    network = bounded(result.network, NETWORKS)
    outcome = "timeout" if result.timed_out else "passed" if result.passed else "failed"
    RUNS.labels(network, outcome).inc()
    SECONDS.labels(network).observe(result.duration_seconds)
    hit = {str(limit) for limit in result.limits_hit}
    if result.oom_kills:
        hit.add("memory")
    if result.output.omitted_bytes:
        hit.add("output")
    for limit in hit:
        LIMITS_HIT.labels(bounded(limit, LIMITS)).inc()


on_sandbox_run(observe_sandbox_run)  # counted wherever this module is imported
