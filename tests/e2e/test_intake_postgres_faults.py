"""The intake under PostgreSQL faults, on a PostgreSQL of the test's own: killed and
restarted, or stopped (SIGSTOP) and resumed, while commands arrive at a steady pace.

Counted as a forge would: answers later than the budget (GitHub gives up at 10 s),
accepted commands without a stored run, commands lost after the forge resends what was
answered 503, and runs that never end. Every one of them must be zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET, running
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.e2e.private_postgres import PrivatePostgres
from tests.sim.github import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/pg-intake"
BUDGET = 2.0
LATE = BUDGET + 1.0  # the budget, and the time a loaded machine takes to send the answer
COMMANDS = 50
PACE = 0.1  # seconds between two commands: 5 s of traffic
FAULT_AT = 1.0
FAULT_SECONDS = 3.0


@pytest.fixture(scope="module")
def service_database_url(postgres: PrivatePostgres) -> str:
    return postgres.url("agentops")


@pytest.fixture(scope="module")
def on_its_own_postgres(
    service_env: dict[str, str], github: tuple[GitHubSim, str], workdir: Path
) -> Iterator[Service]:
    env = service_env | {"AGENTOPS_INTAKE_BUDGET_SECONDS": str(BUDGET)}
    (workdir / "intake-service").mkdir(exist_ok=True)
    with running(Service(env, workdir / "intake-service")) as svc:
        gh, _ = github
        gh.add_repo(REPO, {"README.md": "hi\n"})
        gh.set_permission(REPO, "alice", "admin")
        _, (first,) = _commands(gh, 1)  # the worker is up and working before any fault
        accepted = svc.post_github("issue_comment", first, GITHUB_SECRET)
        assert accepted.status_code == 202, accepted.text
        wait_for(lambda: svc.finished(int(accepted.text.split()[-1])), 60, what="a first run")
        yield svc


@dataclass
class Tally:
    late: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    resent: int = 0
    runs: set[int] = field(default_factory=set)


def _commands(gh: GitHubSim, count: int = COMMANDS) -> tuple[int, list[dict[str, Any]]]:
    number = gh.add_issue(REPO, "Faults", "", user="alice")
    payloads = []
    for _ in range(count):
        comment_id = gh.add_comment(REPO, number, "/agentops help", user="alice")
        payloads.append(
            events.issue_comment(
                REPO,
                gh.installation_id(REPO),
                number,
                "/agentops help",
                "alice",
                comment_id=comment_id,
            )
        )
    return number, payloads


def _under_fault(
    service: Service, payloads: list[dict[str, Any]], fault: Callable[[], None]
) -> Tally:
    """Post every command at the pace, the fault meanwhile; then resend, as a forge
    would, each one answered 503 until it is stored."""
    tally = Tally()
    deliveries = [f"pg-fault-{time.monotonic_ns()}-{n}" for n in range(len(payloads))]

    def post(n: int) -> tuple[int, int, str]:
        with httpx.Client() as client:  # made before the clock starts (see post_github)
            time.sleep(n * PACE)
            started = time.monotonic()
            response = service.post_github(
                "issue_comment", payloads[n], GITHUB_SECRET, deliveries[n], client
            )
            elapsed = time.monotonic() - started
        if elapsed > LATE:
            tally.late.append(elapsed)
        return n, response.status_code, response.text

    def fault_later() -> None:
        time.sleep(FAULT_AT)
        fault()

    with ThreadPoolExecutor(max_workers=len(payloads) + 1) as pool:
        faulted = pool.submit(fault_later)
        answers = list(pool.map(post, range(len(payloads))))
        faulted.result()
    waiting = []
    for n, status, text in answers:
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status == 202:
            tally.runs.add(int(text.split()[-1]))
        else:
            assert status == 503, (status, text)
            waiting.append(n)
    deadline = time.monotonic() + 60
    while waiting and time.monotonic() < deadline:
        time.sleep(1)
        still = []
        for n in waiting:
            response = service.post_github(
                "issue_comment", payloads[n], GITHUB_SECRET, deliveries[n]
            )
            tally.resent += 1
            if response.status_code == 503:
                still.append(n)
            elif response.status_code == 202:
                tally.runs.add(int(response.text.split()[-1]))
            elif not response.text.startswith("duplicate"):  # stored after all: fine
                raise AssertionError(response.text)
        waiting = still
    assert not waiting, f"{len(waiting)} commands never stored after the fault"
    return tally


def _check(service: Service, gh: GitHubSim, number: int, tally: Tally) -> None:
    assert tally.late == [], f"answers later than {LATE} s: {tally.late}"
    listed = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    runs = {r["id"] for r in listed if (r["repo"], r["target_number"]) == (REPO, number)}
    assert len(runs) == COMMANDS, f"runs lost: {COMMANDS - len(runs)}"
    assert tally.runs <= runs  # each 202 is a stored run
    for run_id in runs:  # and every run ends
        try:
            run = wait_for(partial(service.finished, run_id), 90, what=f"run {run_id} to end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{service.logs()[-4000:]}") from None
        assert run["status"] == "succeeded", run
    replies = [c for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login]
    assert len(replies) == COMMANDS  # one answer per command: none lost, none twice


def test_postgres_killed_and_restarted_under_traffic(
    on_its_own_postgres: Service, postgres: PrivatePostgres, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    number, payloads = _commands(gh)

    def crash_and_restart() -> None:
        postgres.crash()
        time.sleep(FAULT_SECONDS)
        postgres.start()

    tally = _under_fault(on_its_own_postgres, payloads, crash_and_restart)
    assert tally.statuses.get(503, 0) > 0, tally.statuses  # the fault was felt
    _check(on_its_own_postgres, gh, number, tally)


def test_postgres_stopped_and_resumed_under_traffic(
    on_its_own_postgres: Service, postgres: PrivatePostgres, github: tuple[GitHubSim, str]
) -> None:
    gh, _ = github
    number, payloads = _commands(gh)

    def stall() -> None:
        postgres.pause()
        try:
            time.sleep(FAULT_SECONDS)
        finally:
            postgres.resume()

    tally = _under_fault(on_its_own_postgres, payloads, stall)
    assert tally.statuses.get(503, 0) > 0, tally.statuses
    _check(on_its_own_postgres, gh, number, tally)


def test_a_worker_started_while_postgres_is_down_waits_for_it(
    on_its_own_postgres: Service, postgres: PrivatePostgres, github: tuple[GitHubSim, str]
) -> None:
    service = on_its_own_postgres
    gh, _ = github
    service.worker.stop()
    postgres.stop()
    try:
        service.worker.start()
        wait_for(
            lambda: "waiting for it" in service.worker.output(),
            60,
            what="the worker to say it waits for PostgreSQL",
        )
        time.sleep(2)
        assert service.worker.process is not None and service.worker.process.poll() is None
    finally:
        postgres.start()
    wait_for(lambda: "PostgreSQL is up after" in service.worker.output(), 30, what="the worker")
    _, (command,) = _commands(gh, 1)
    accepted = service.post_github("issue_comment", command, GITHUB_SECRET)
    assert accepted.status_code == 202, accepted.text
    run = wait_for(lambda: service.finished(int(accepted.text.split()[-1])), 60, what="the run")
    assert run["status"] == "succeeded", run
