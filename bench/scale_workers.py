"""Runs per minute with 1, 2, 4 `agentops worker` processes on one PostgreSQL and Redis.

For each N: a new database and queue name on the machine's PostgreSQL and Redis, one
`agentops serve`, N workers, the GitHub and scripted LLM simulators on loopback; RUNS
`/agentops plan` comments are posted to the webhook at once (one new issue each) and the
workers drain them. Figures come from the store's timestamps: queue wait is `created_at`
(stored by the intake) → `started_at` (first claimed by a worker), duration is
`started_at` → `finished_at`, runs per minute is RUNS over first stored → last finished.
Duplicates (a run claimed twice, a second plan comment on an issue) and lost runs (not
finished, or finished without its comment) must be 0, else the exit status is 1.

CPU seconds per process group are read from /proc while the runs drain (user + system,
with reaped children: git and its helpers count to the process that ran them).

    .venv/bin/python bench/scale_workers.py --workers 1,2,4 --runs 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.worker_scale import Outcome, Processes, measure  # noqa: E402
from tests.sim.github import GitHubSim  # noqa: E402
from tests.sim.llm_sim import LLMSimulator  # noqa: E402
from tests.sim.serve import serve_app  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
DRIVER = "bench driver (posts, polls)"


def _cpu_ticks(pid: int, thread: int | None = None) -> tuple[int, int] | None:
    """(utime + stime, cutime + cstime) of `pid`: its own CPU and its reaped children's
    (of one of its threads: its own only); None when it is gone."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    own, children = fields[11:13], fields[13:15]
    return sum(map(int, own)), 0 if thread else sum(map(int, children))


def new_threads(before: set[int]) -> set[int]:
    """Native ids of this process's threads started since `before`."""
    return {t.native_id for t in threading.enumerate() if t.native_id} - before


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _services(database: str) -> dict[int, tuple[str, str]]:
    """The machine's Redis and the PostgreSQL backends serving `database` (their titles
    name it), in one pass over /proc."""
    found: dict[int, tuple[str, str]] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        line = _cmdline(int(p.name))
        if line.startswith("redis-server 127.0.0.1:6379"):
            found[int(p.name)] = ("redis (shared)", "redis (shared)")
        elif line.startswith("postgres:") and f" {database} " in line:
            found[int(p.name)] = ("postgres backends", "postgres backends")
    return found


@dataclass
class CpuWatch:
    """CPU seconds per group of processes between the first and the last `__call__`."""

    start: dict[int, tuple[int, int]] = field(default_factory=dict)
    last: dict[int, tuple[int, int]] = field(default_factory=dict)
    groups: dict[int, tuple[str, str]] = field(default_factory=dict)  # own, children
    threads: dict[int, str] = field(default_factory=dict)  # this process's, by native id
    loads: list[float] = field(default_factory=list)
    machine: tuple[int, int] | None = None
    machine_end: tuple[int, int] = (0, 0)
    began: float = 0.0
    ended: float = 0.0

    def __call__(self, processes: Processes) -> None:
        own = os.getpid()
        groups = {
            processes.web: ("web (serve)", "web (serve)"),
            own: (DRIVER, "GitHub simulator's git http-backend"),
        }
        groups |= {tid: (name, name) for tid, name in self.threads.items()}
        groups |= {pid: ("workers (Python)", "workers' git") for pid in processes.workers}
        groups |= _services(processes.database)
        first = self.machine is None
        for pid, names in groups.items():
            ticks = _cpu_ticks(own, pid) if pid in self.threads else _cpu_ticks(pid)
            if ticks is None:
                continue
            if pid not in self.start:  # a backend opened meanwhile counts from 0
                self.start[pid] = ticks if first or pid == own else (0, 0)
            self.groups[pid] = names
            self.last[pid] = ticks
        self.loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
        if first:
            self.machine, self.began = _busy_ticks(), time.monotonic()
        self.machine_end, self.ended = _busy_ticks(), time.monotonic()

    def seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, names in self.groups.items():
            for name, now, then in zip(names, self.last[pid], self.start[pid], strict=True):
                totals[name] = totals.get(name, 0.0) + (now - then) / TICKS
        for name in set(self.threads.values()):  # counted in the process's own CPU too
            totals[DRIVER] -= totals.get(name, 0.0)
        return totals

    def machine_busy(self) -> float:
        """The machine's busy share over the watch, 0-1 of all its cores."""
        assert self.machine is not None
        busy = self.machine_end[0] - self.machine[0]
        total = self.machine_end[1] - self.machine[1]
        return busy / total if total else 0.0


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def report(outcome: Outcome, watch: CpuWatch) -> None:
    minutes = outcome.seconds / 60
    rate = len(outcome.ended) / minutes if minutes else 0.0
    waits, durations = outcome.queue_waits, outcome.durations
    wall = watch.ended - watch.began
    print(
        f"\n== {outcome.workers} worker(s): {len(outcome.ended)}/{outcome.requested} ended in "
        f"{outcome.seconds:.1f} s → {rate:.1f} runs/min; jobs per worker "
        + "/".join(map(str, outcome.jobs))
    )
    print(f"queue wait  p50 {percentile(waits, 0.5):6.2f} s  p95 {percentile(waits, 0.95):6.2f} s")
    print(
        f"duration    p50 {percentile(durations, 0.5):6.2f} s  "
        f"p95 {percentile(durations, 0.95):6.2f} s"
    )
    print(
        f"duplicates {outcome.duplicates}  lost {outcome.lost}  failed {outcome.failed}  "
        f"load avg (1 min) {min(watch.loads):.2f}-{max(watch.loads):.2f}  "
        f"machine busy {watch.machine_busy() * 100:.0f} %"
    )
    print(f"webhooks posted in {outcome.posting:.1f} s; CPU over {wall:.1f} s (cores = CPU s / s):")
    spent = watch.seconds()
    cores = (os.cpu_count() or 1) * watch.machine_busy() * wall
    spent["other processes on the machine"] = cores - sum(spent.values())
    for group, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<36} {seconds:7.1f} s  {seconds / wall if wall else 0:5.2f} cores")


def run_all(
    counts: list[int],
    runs: int,
    timeout: float,
    work: Path,
    gh: GitHubSim,
    gh_url: str,
    llm_url: str,
    threads: dict[int, str],
) -> bool:
    """Measure each worker count in turn; True when one of them lost, repeated or failed
    a run."""
    bad = False
    for n in counts:
        watch = CpuWatch(threads=threads)
        # the sweep as deployed: a queued run is enqueued again after 60 s
        env = {"AGENTOPS_REQUEUE_AFTER_SECONDS": "60"}
        outcome = measure(
            n, runs, work / f"w{n}", gh, gh_url, llm_url, env=env, watch=watch, timeout=timeout
        )
        report(outcome, watch)
        bad |= bool(outcome.lost or outcome.duplicates or outcome.failed)
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, e.g. 1,2,4")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300, help="s without a run ending")
    args = parser.parse_args()
    try:
        counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        parser.error("--workers takes numbers separated by commas, e.g. 1,2,4")
    if not counts or min(counts) < 1 or args.runs < 1:
        parser.error("--workers and --runs must be 1 or more")
    work = Path(tempfile.mkdtemp(prefix="agentops-scale-"))
    gh = GitHubSim(work / "github")
    llm = LLMSimulator()
    print(f"{args.runs} `/agentops plan` runs per worker count; {os.cpu_count()} CPUs")
    threads = new_threads(set())
    with serve_app(gh.app) as gh_url:
        github_threads = new_threads(threads)
        with serve_app(llm.app) as llm_url:
            llm_threads = new_threads(threads | github_threads)
            names = dict.fromkeys(github_threads, "GitHub simulator (thread)")
            names |= dict.fromkeys(llm_threads, "LLM simulator (thread)")
            bad = run_all(counts, args.runs, args.timeout, work, gh, gh_url, llm_url, names)
    if bad:
        print("FAILED: lost, duplicated or failed runs (logs under " + str(work) + ")")
        sys.exit(1)


if __name__ == "__main__":
    main()
