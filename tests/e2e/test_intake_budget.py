"""Every delivery is answered within the intake budget, whatever PostgreSQL and Redis do:
stored and 202, or 503 with `Retry-After` (the forge sends it again), never later."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import ADMIN_TOKEN, RedisServer, Service, wait_for
from tests.sim.github import GitHubSim

pytestmark = pytest.mark.e2e
REPO = "acme/budget"
BUDGET = 2.0
# a signature of the right shape: the body is read before it is checked
SIGNED = b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n"


@pytest.fixture(scope="module")
def extra_env() -> dict[str, str]:
    return {"AGENTOPS_INTAKE_BUDGET_SECONDS": str(BUDGET), "AGENTOPS_INTAKE_MAX_PENDING": "3"}


@pytest.fixture(scope="module")
def issue(github: tuple[GitHubSim, str]) -> int:
    gh, _ = github
    gh.add_repo(REPO, {"README.md": "hi\n"})
    gh.set_permission(REPO, "alice", "admin")
    return gh.add_issue(REPO, "Budget", "", user="alice")


def _help(gh: GitHubSim, number: int) -> dict[str, Any]:
    comment_id = gh.add_comment(REPO, number, "/agentops help", user="alice")
    return events.issue_comment(
        REPO, gh.installation_id(REPO), number, "/agentops help", "alice", comment_id=comment_id
    )


def _timed(service: Service, payload: dict[str, Any]) -> tuple[httpx.Response, float]:
    with httpx.Client() as client:
        started = time.monotonic()
        response = service.post_github("issue_comment", payload, GITHUB_SECRET, client=client)
        return response, time.monotonic() - started


@contextmanager
def runs_table_locked(database_url: str) -> Iterator[None]:
    """Another session holds the runs table, as a long migration or a stuck query would."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(database_url))
    transaction = conn.transaction()
    loop.run_until_complete(transaction.start())
    loop.run_until_complete(conn.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        loop.run_until_complete(transaction.rollback())
        loop.run_until_complete(conn.close())
        loop.close()


def test_a_hung_redis_does_not_hold_the_answer(
    service: Service, redis_server: RedisServer, github: tuple[GitHubSim, str], issue: int
) -> None:
    gh, _ = github
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        response, took = _timed(service, _help(gh, issue))
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert response.status_code == 202, response.text
    assert took < BUDGET  # stored; the sweep enqueues what Redis did not take in time
    run_id = int(response.text.split()[-1])
    run = wait_for(lambda: service.finished(run_id), 60, what="the run once Redis answers")
    assert run["status"] == "succeeded"


def test_a_locked_table_is_a_503_within_the_budget_and_the_resend_is_stored(
    service: Service, e2e_database_url: str, github: tuple[GitHubSim, str], issue: int
) -> None:
    gh, _ = github
    payload = _help(gh, issue)
    with runs_table_locked(e2e_database_url):
        response, took = _timed(service, payload)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5" and "send it again" in response.text
    assert took < BUDGET + 1.0
    again, _ = _timed(service, payload)  # what GitHub's redelivery does
    # stored: now, or by the write the lock held (the first answer could not wait for it)
    assert (again.status_code, again.text.split(":")[0]) in ((202, "accepted"), (200, "duplicate"))
    comment_id = payload["comment"]["id"]
    runs = [
        r
        for r in service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
        if r["comment_id"] == comment_id
    ]
    assert len(runs) == 1  # one command, one run
    run = wait_for(lambda: service.finished(runs[0]["id"]), 60, what="the run to end")
    assert run["status"] == "succeeded"


def test_a_burst_is_shed_at_once_and_every_answer_is_in_time(
    service: Service, e2e_database_url: str, github: tuple[GitHubSim, str], issue: int
) -> None:
    gh, _ = github
    payloads = [_help(gh, issue) for _ in range(12)]
    with runs_table_locked(e2e_database_url), ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda p: _timed(service, p), payloads))
    assert all(r.status_code == 503 for r, _ in answers), [r.text for r, _ in answers]
    assert all(took < BUDGET + 1.0 for _, took in answers), [t for _, t in answers]
    shed = [took for r, took in answers if "too many deliveries at once" in r.text]
    # beyond 3 waiting: answered without waiting for the budget (those that wait take at
    # least BUDGET; a quarter of it is the margin for a loaded machine's thread start-up)
    assert len(shed) >= 12 - 3 and max(shed) < BUDGET * 0.75


def test_a_body_that_never_arrives_is_a_408_in_time(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nX-GitHub-Event: issue_comment\r\n"
            b"X-GitHub-Delivery: slow-1\r\n" + SIGNED + b'\r\n{"half": '
        )
        answer = sock.recv(4096).decode()
        took = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 408"), answer
    assert took < BUDGET + 1.0


def test_a_client_that_goes_away_mid_body_is_one_short_line(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            b"X-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: gone-1\r\n"
            + SIGNED
            + b'\r\n{"half": '
        )
    wait_for(
        lambda: "went away before sending its whole body" in service.web.output(),
        10,
        what="the line about the client that went away",
    )
    assert "Traceback" not in service.web.output()


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-GitHub-Delivery", "d" * 5000, "bad X-GitHub-Delivery header"),
        ("X-GitHub-Event", "issue_comment" + "x" * 5000, "bad X-GitHub-Event header"),
    ],
)
def test_over_long_headers_are_a_400_that_does_not_echo_them(
    service: Service, github: tuple[GitHubSim, str], issue: int, header: str, value: str,
    reason: str,
) -> None:  # fmt: skip
    gh, _ = github
    response = service.post_github(
        value if header == "X-GitHub-Event" else "issue_comment",
        _help(gh, issue),
        GITHUB_SECRET,
        delivery=value if header == "X-GitHub-Delivery" else None,
    )
    assert response.status_code == 400 and reason in response.text
    assert value not in response.text
