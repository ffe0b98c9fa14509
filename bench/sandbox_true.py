"""Time one sandboxed `true`: the fixed cost of the sandbox around every test command.

    .venv/bin/python bench/sandbox_true.py [--runs N] [--no-cgroups]

Runs `true` in the sandbox N times (after one warm-up) on an empty checkout and prints
the median, min and max. `--no-cgroups` leaves the per-command cgroups out (a
policy switch; the sized tmpfs /tmp and /dev/shm stay), to see their share of the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox import SandboxPolicy, run_sandboxed  # noqa: E402


async def once(checkout: Path, policy: SandboxPolicy) -> float:
    started = time.perf_counter()
    result = await run_sandboxed(["true"], checkout, policy)
    elapsed = time.perf_counter() - started
    assert result.passed and result.sandboxed, result.summary()
    return elapsed


async def bench(runs: int, cgroups: bool) -> list[float]:
    policy = SandboxPolicy()
    if not cgroups:
        policy = dataclasses.replace(policy, cgroups=False)
    with tempfile.TemporaryDirectory(prefix="agentops-bench-") as tmp:
        await once(Path(tmp), policy)  # warm-up: the probe, the page cache
        return [await once(Path(tmp), policy) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-cgroups", action="store_true")
    args = parser.parse_args()
    times = asyncio.run(bench(args.runs, not args.no_cgroups))
    print(
        f"sandboxed `true` x{args.runs}: median {statistics.median(times) * 1000:.1f} ms, "
        f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
