"""N `agentops worker` processes draining a burst of `/agentops plan` runs: the core of
bench/scale_workers.py and of its smoke test (tests/e2e/test_worker_scale.py).

One `agentops serve`, N workers, a new database and queue name on the machine's
PostgreSQL and Redis; the GitHub and LLM simulators are the caller's. Every run is
started through the webhook, as a person's comment would; `plan` clones the repository,
indexes it, asks the (scripted) planner and comments the plan, so every run goes through
the worker's whole path short of the sandbox.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg

from app.forges.markers import unmarked
from app.store.migrations import apply_migrations, ensure_database
from tests.conftest import PG_BASE, REDIS_URL, drop_database
from tests.e2e import github_events as events
from tests.e2e.harness import Service, ServiceProcess, base_env, github_env, wait_for
from tests.e2e.implement_script import llm_env
from tests.sim.github import GitHubSim

SECRET = "scale-webhook-secret"
FILES = {
    "shapes.py": "def area(w, h):\n    return w * h\n\n\n"
    "def perimeter(w, h):\n    return 2 * (w + h)\n",
    "tests/test_shapes.py": "from shapes import area\n\n\ndef test_area():\n"
    "    assert area(2, 3) == 6\n",
}
ENDED = ("succeeded", "failed", "cancelled")
POSTERS = 8  # webhooks in flight at once, as GitHub sends them in parallel
JOB_STARTED = re.compile(r":run:\d+:run_workflow\(")  # ARQ's "→ JOB_ID:FUNCTION(ARGS)"


@dataclass(frozen=True)
class StoredRun:
    """A run's row as the store keeps it."""

    id: int
    target_number: int
    status: str
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Processes:
    """What is running for one measurement, for whoever watches its CPU."""

    web: int
    workers: tuple[int, ...]
    database: str


@dataclass
class Outcome:
    workers: int
    requested: int
    accepted: list[int]  # run ids the webhook answered with
    runs: list[StoredRun]
    replies: dict[int, int] = field(default_factory=dict)  # issue → plan comments on it
    jobs: list[int] = field(default_factory=list)  # run jobs each worker started (its log)
    posting: float = 0.0  # seconds from the first webhook sent to the last one answered

    @property
    def ended(self) -> list[StoredRun]:
        return [r for r in self.runs if r.status in ENDED and r.finished_at is not None]

    @property
    def failed(self) -> int:
        return sum(r.status != "succeeded" for r in self.ended)

    @property
    def lost(self) -> int:
        """Asked for but never finished: no run stored, or a run that did not end, or one
        that succeeded without its plan on the issue."""
        missing_reply = sum(
            self.replies.get(r.target_number, 0) == 0 for r in self.ended if r.status == "succeeded"
        )
        return self.requested - len(self.ended) + missing_reply

    @property
    def duplicates(self) -> int:
        """A run claimed twice, a webhook answered with a run id twice, or a second plan
        comment on one issue."""
        twice_claimed = sum(r.attempts - 1 for r in self.runs if r.attempts > 1)
        repeated_ids = len(self.accepted) - len(set(self.accepted))
        extra_replies = sum(n - 1 for n in self.replies.values() if n > 1)
        return twice_claimed + repeated_ids + extra_replies

    @property
    def seconds(self) -> float:
        """From the first run stored to the last one finished."""
        ends = [r.finished_at for r in self.ended if r.finished_at]
        if not ends or not self.runs:
            return 0.0
        return (max(ends) - min(r.created_at for r in self.runs)).total_seconds()

    @property
    def queue_waits(self) -> list[float]:
        """Stored (`created_at`) → first claimed by a worker (`started_at`)."""
        return [(r.started_at - r.created_at).total_seconds() for r in self.runs if r.started_at]

    @property
    def durations(self) -> list[float]:
        """First claimed → finished."""
        return [
            (r.finished_at - r.started_at).total_seconds()
            for r in self.ended
            if r.started_at and r.finished_at
        ]


async def _stored_runs(database_url: str) -> list[StoredRun]:
    # The superuser reads every tenant's runs (row-level security does not apply to it).
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, target_number, status, attempts, created_at, started_at,"
            " finished_at"
            " FROM runs ORDER BY id"
        )
    finally:
        await conn.close()
    return [StoredRun(**dict(row)) for row in rows]


def _plan_replies(gh: GitHubSim, repo: str, numbers: list[int]) -> dict[int, int]:
    counts: Counter[int] = Counter()
    for number in numbers:
        for comment in gh.comments(repo, number):
            if comment["user"]["login"] == gh.bot_login and unmarked(comment["body"]).startswith(
                f"**Plan for #{number}**"
            ):
                counts[number] += 1
    return {number: counts[number] for number in numbers}


def _post(service: Service, payload: dict[str, Any]) -> int:
    """Send one comment's webhook; the run id the intake answers with."""
    answer = service.post_github("issue_comment", payload, SECRET)
    if answer.status_code != 202:
        raise AssertionError(f"webhook answered {answer.status_code}: {answer.text}")
    return int(answer.text.split()[-1])


def _started(worker: ServiceProcess) -> bool:
    # ARQ says "Starting worker" before the start-up checks; the last check says this
    return "test Python" in worker.output()


def measure(
    workers: int,
    runs: int,
    work: Path,
    gh: GitHubSim,
    gh_url: str,
    llm_url: str,
    *,
    env: dict[str, str] | None = None,
    watch: Callable[[Processes], None] | None = None,
    timeout: float = 600.0,
) -> Outcome:
    """Start serve and `workers` workers, post `runs` plan commands at once, wait until
    every run has ended (or nothing moved for `timeout` seconds), and read the store."""
    work.mkdir(parents=True, exist_ok=True)
    db_name = f"agentops_scale_{uuid.uuid4().hex[:8]}"
    database_url = f"{PG_BASE}/{db_name}"
    asyncio.run(ensure_database(database_url))
    asyncio.run(apply_migrations(database_url))
    repo = f"scale/w{workers}-{uuid.uuid4().hex[:6]}"
    gh.add_repo(repo, FILES)
    gh.set_permission(repo, "alice", "write")
    service_env = base_env(database_url, REDIS_URL, work) | github_env(gh, gh_url, SECRET)
    service_env |= llm_env(llm_url) | (env or {})
    # the issues and comments first: the burst is the webhooks alone
    numbers, payloads = [], []
    for n in range(runs):
        number, payload = events.command_on_new_issue(
            gh, repo, f"Shapes {n}: add a volume", "/agentops plan"
        )
        numbers.append(number)
        payloads.append(payload)
    service = Service(service_env, work)
    extra = [
        ServiceProcess(["worker"], service.env, work / f"worker-{i}.log")
        for i in range(2, workers + 1)
    ]
    try:
        for process in extra:  # they start (imports, checks) while the web process does
            process.start()
        service.start()
        for process in [service.worker, *extra]:
            wait_for(partial(_started, process), 60, what="a worker to start")
        assert service.web.process is not None
        processes = Processes(
            service.web.process.pid,
            tuple(p.process.pid for p in [service.worker, *extra] if p.process),
            db_name,
        )
        if watch:
            watch(processes)
        began = time.monotonic()
        with ThreadPoolExecutor(POSTERS) as pool:
            accepted = list(pool.map(partial(_post, service), payloads))
        posting = time.monotonic() - began
        stored = _wait_until_ended(database_url, runs, timeout, processes, watch)
        jobs = [len(JOB_STARTED.findall(p.output())) for p in [service.worker, *extra]]
        replies = _plan_replies(gh, repo, numbers)
        return Outcome(workers, runs, accepted, stored, replies, jobs, posting)
    finally:
        for process in extra:
            process.stop()
        service.stop()
        asyncio.run(drop_database(db_name))


def _wait_until_ended(
    database_url: str,
    runs: int,
    timeout: float,
    processes: Processes,
    watch: Callable[[Processes], None] | None,
) -> list[StoredRun]:
    """Poll the store until `runs` runs have ended; give up when none ended for `timeout`."""
    loop = asyncio.new_event_loop()
    try:
        ended, moved = -1, loop.time()
        while True:
            stored = loop.run_until_complete(_stored_runs(database_url))
            if watch:
                watch(processes)
            now_ended = sum(r.status in ENDED for r in stored)
            if now_ended >= runs:
                return stored
            if now_ended != ended:
                ended, moved = now_ended, loop.time()
            elif loop.time() - moved > timeout:
                return stored
            loop.run_until_complete(asyncio.sleep(0.5))
    finally:
        loop.close()
