"""What counting one webhook costs on the intake's hot path (`observe_webhook`: one counter
increment and one histogram observation), in one process and in multiprocess mode
(`agentops serve --workers N`, values in memory-mapped files).

    .venv/bin/python bench/metrics_observe.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(calls: int) -> float:
    """Nanoseconds per `observe_webhook` call, best of three rounds."""
    sys.path.insert(0, str(ROOT))
    from app.metrics.intake import observe_webhook

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter_ns()
        for n in range(calls):
            observe_webhook("github", 202 if n % 4 else 200, 0.002)
        best = min(best, (time.perf_counter_ns() - started) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f"{measure(args.calls):.0f}")
        return
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    argv = [sys.executable, __file__, "--child", "--calls", str(args.calls)]
    single = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory() as shared:
        multi = subprocess.run(
            argv, env=env | {"PROMETHEUS_MULTIPROC_DIR": shared}, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
    print(f"observe_webhook, one process:      {single.stdout.strip()} ns a call")
    print(f"observe_webhook, multiprocess dir: {multi.stdout.strip()} ns a call")


if __name__ == "__main__":
    main()
