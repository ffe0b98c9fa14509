"""CPU time per delivery: the service process's and PostgreSQL's, under closed-loop wrk.

    .venv/bin/python bench/intake_cpu.py [--rounds 3] [--seconds 8]

Rates and latencies move with whatever else the machine is doing; the CPU each delivery
costs moves much less, so this is the figure to compare two versions by. One `agentops
serve` (httptools), a new database, a private Redis, no worker (as in
`bench/intake_throughput.py`). Each round sends distinct pre-signed `/agentops help`
commands (each a stored delivery and run) and then distinct ignored comments, and reads
the CPU time (user + system, `/proc/PID/stat`) of the service process and of every
PostgreSQL process on the machine before and after: run it on a machine where nothing
else talks to PostgreSQL. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_service import intake_service  # noqa: E402
from bench.intake_throughput import write_requests, wrk  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu_seconds() -> float:
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
                total += cpu_seconds(pid)
        except OSError:  # a backend that ended meanwhile
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agentops-intake-cpu-"))
    kinds = {"accepted": "/agentops help", "ignored": "thanks, looks good"}
    files = {(kind, n): work / f"{kind}{n}.txt" for kind in kinds for n in range(args.rounds)}
    for i, ((kind, _), path) in enumerate(files.items()):
        write_requests(path, 60_000, kinds[kind], 10_000_000 + i * 100_000)
    figures: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in kinds}
    with intake_service(work) as intake:
        pid = intake.service.web.process.pid  # type: ignore[union-attr]
        for n in range(args.rounds):
            for kind in kinds:
                service0, postgres0 = cpu_seconds(pid), postgres_cpu_seconds()
                result = wrk(intake.hook, files[(kind, n)], args.seconds, args.connections)
                service1, postgres1 = cpu_seconds(pid), postgres_cpu_seconds()
                count = result["requests"]
                figures[kind].append(
                    (
                        result["per_second"],
                        1e6 * (service1 - service0) / count,
                        1e6 * (postgres1 - postgres0) / count,
                    )
                )
    print(f"wrk -c{args.connections}, {args.rounds} rounds of {args.seconds} s; medians (ranges)")
    for kind, rows in figures.items():
        columns = list(zip(*rows, strict=True))
        shown = [f"{statistics.median(c):6.0f} ({min(c):.0f}–{max(c):.0f})" for c in columns]
        print(
            f"{kind:9} {shown[0]}/s   service {shown[1]} µs   PostgreSQL {shown[2]} µs per delivery"
        )


if __name__ == "__main__":
    main()
