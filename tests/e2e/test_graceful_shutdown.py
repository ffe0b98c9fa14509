"""SIGTERM to a worker: it takes no new job, its runs end their step (or are cut at the
grace) and are handed over at once; another worker goes on from the next step. A rolling
restart of the workers under 20 runs loses none and repeats nothing on the forge, and
`agentops dev` stops the same way.

The sweep's hand-over (a stopped heartbeat) is set far beyond these tests' waits: what
they see is the stopping worker's own hand-over.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, running
from tests.e2e.harness import Service, ServiceProcess, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, slow, text

pytestmark = pytest.mark.e2e
GRACE = 10.0
HANDED_OVER = re.compile(r"run (\d+): handed over")


@dataclass
class Workers:
    """`agentops worker` processes started and stopped one by one, as a rollout does."""

    env: dict[str, str]
    workdir: Path
    started: list[ServiceProcess] = field(default_factory=list)

    def launch(self, **env: str) -> ServiceProcess:
        n = len(self.started) + 1
        worker = ServiceProcess(["worker"], self.env | env, self.workdir / f"worker-{n}.log")
        worker.start()
        self.started.append(worker)
        return worker

    def start(self, count: int = 1, **env: str) -> ServiceProcess:
        """Start `count` workers together; the last one, once all take jobs."""
        new = [self.launch(**env) for _ in range(count)]
        for worker in new:
            wait_for(partial(_taking_jobs, worker), 60, what="a worker to start")
        return new[-1]

    def terminate(self, worker: ServiceProcess, within: float) -> float:
        """SIGTERM to the worker's process alone (as Kubernetes and Docker send it); the
        seconds it took to exit 0."""
        assert worker.process is not None
        began = time.monotonic()
        os.kill(worker.process.pid, signal.SIGTERM)
        code = worker.process.wait(within + 15)
        took = time.monotonic() - began
        worker.process = None
        assert code == 0, worker.output()[-3000:]
        assert took < within, (took, worker.output()[-3000:])
        return took

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {n} ---\n{w.output()[-4000:]}" for n, w in enumerate(self.started, 1)
        )

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop(signal.SIGKILL)


def _taking_jobs(worker: ServiceProcess) -> bool:
    if worker.process is not None and worker.process.poll() is not None:
        raise AssertionError(f"worker exited:\n{worker.output()[-3000:]}")
    return "Starting worker for" in worker.output() and "test Python" in worker.output()


def _running_jobs(worker: ServiceProcess) -> int:
    log = worker.output()
    started = len(re.findall(r"→ \S+:run:\d+:run_workflow", log))
    ended = len(re.findall(r"[←↻!⊘] \S+:run:\d+:run_workflow", log))
    return started - ended


@pytest.fixture(scope="module")
def env(service_env: dict[str, str], llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return (
        service_env
        | script.llm_env(llm[1])
        | {
            "AGENTOPS_HEARTBEAT_SECONDS": "0.5",
            "AGENTOPS_STALE_RUN_SECONDS": "600",
            "AGENTOPS_SHUTDOWN_GRACE_SECONDS": f"{GRACE:g}",
        }
    )


@pytest.fixture(scope="module")
def web(env: dict[str, str], workdir: Path) -> Iterator[Service]:
    with running(Service(env, workdir), worker=False) as svc:
        yield svc


@pytest.fixture(scope="module")
def workers(env: dict[str, str], web: Service, workdir: Path) -> Iterator[Workers]:
    pool = Workers(web.env, workdir)
    yield pool
    pool.stop_all()


def _step_running(web: Service, run_id: int, name: str) -> bool:
    steps = web.run(run_id)["steps"]
    return any(s["name"] == name and s["status"] == "running" for s in steps)


def _bot_comments(gh: GitHubSim, repo: str, number: int) -> list[str]:
    return [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]


def _completed_once(gh: GitHubSim, repo: str, run_id: int) -> dict[str, Any]:
    """The run's one check run, completed once (no state after it)."""
    [check] = [c for c in gh.check_runs(repo) if c["external_id"] == str(run_id)]
    states = [h["status"] for h in check["history"]]
    assert states.count("completed") == 1 and states[-1] == "completed", states
    return check


def _steps_once(run: dict[str, Any]) -> None:
    names = [s["name"] for s in run["steps"]]
    assert len(names) == len(set(names)), names
    assert all(s["status"] == "succeeded" for s in run["steps"]), run["steps"]


def test_sigterm_mid_step_finishes_the_step_and_another_worker_delivers_once(
    web: Service, workers: Workers, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc-rollout"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    # a plan run (the stop is under test, not the workflow): its plan takes 6 s, and its
    # reply, the step after the plan, is the second worker's
    sim.script(script.PLANNER, slow(6.0, text("**Change**\n1. `calc.py`: raise on zero.")))
    workers.start(2)
    planner_before = len(sim.requests_for(script.PLANNER))
    number = gh.add_issue(repo, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    run_id = script.comment_command(web, gh, repo, number, "/agentops plan")
    wait_for(lambda: _step_running(web, run_id, "plan"), 60, what="the plan step")
    [first] = [w for w in workers.started if f"run_workflow({run_id})" in w.output()]
    [second] = [w for w in workers.started if w is not first and w.process is not None]

    took = workers.terminate(first, within=GRACE)
    assert took > 1.0  # it waited for the plan, which was under way
    assert f"run {run_id}: handed over" in first.output(), first.output()[-3000:]

    try:
        run = wait_for(lambda: web.finished(run_id), 120, what="the run on the second worker")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None
    assert run["status"] == "succeeded", (run["error"], workers.logs())
    assert run["attempts"] == 2
    _steps_once(run)
    assert len(sim.requests_for(script.PLANNER)) - planner_before == 1  # not asked again
    assert f"run_workflow({run_id})" in second.output()
    [reply] = _bot_comments(gh, repo, number)  # posted once, by the second worker
    assert reply.startswith(f"**Plan for #{number}**") and "raise on zero" in reply, reply
    assert _completed_once(gh, repo, run_id)["conclusion"] == "success"


def test_a_rolling_restart_under_twenty_runs_loses_none_and_repeats_nothing(
    web: Service, workers: Workers, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/rollout"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "admin")
    # each plan takes 5 s: a worker stopped while runs arrive has some under way
    sim.script(script.PLANNER, *[slow(5, text(f"**Change**\n1. plan {n}")) for n in range(20)])
    old = [w for w in workers.started if w.process is not None]
    if len(old) < 2:
        workers.start(2 - len(old))
        old = [w for w in workers.started if w.process is not None]
    planner_before = len(sim.requests_for(script.PLANNER))
    started: list[tuple[int, int]] = []

    def command(n: int) -> None:
        number, payload = events.command_on_new_issue(gh, repo, f"Rollout {n}", "/agentops plan")
        answer = web.post_github("issue_comment", payload, GITHUB_SECRET)
        assert answer.status_code == 202, answer.text
        started.append((number, int(answer.text.split()[-1])))

    for stage, worker in enumerate(old):  # a replacement up first, then an old worker down
        workers.start()
        for n in range(10):  # runs under way on every worker, the old one among them
            command(10 * stage + n)
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while not _running_jobs(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        workers.terminate(worker, within=GRACE + 5)

    assert len(started) == 20 and len({run_id for _, run_id in started}) == 20
    try:
        runs = [wait_for(partial(web.finished, r), 90, what=f"run {r}") for _, r in started]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{workers.logs()}") from None
    assert [r["status"] for r in runs] == ["succeeded"] * 20, (
        [(r["id"], r["status"], r["error"]) for r in runs if r["status"] != "succeeded"],
        workers.logs(),
    )
    ours = {run_id for _, run_id in started}
    handed = [int(n) for w in workers.started for n in HANDED_OVER.findall(w.output())]
    handed = [run_id for run_id in handed if run_id in ours]
    assert handed, workers.logs()  # the old workers had runs under way
    for (number, run_id), run in zip(started, runs, strict=True):
        _steps_once(run)
        assert run["attempts"] == 1 + handed.count(run_id), (run_id, run["attempts"])
        [reply] = _bot_comments(gh, repo, number)
        assert reply.startswith(f"**Plan for #{number}**"), reply
        assert _completed_once(gh, repo, run_id)["conclusion"] == "success"
    assert len(sim.requests_for(script.PLANNER)) - planner_before == 20  # no turn repeated
    assert "Traceback" not in "".join(w.output() for w in workers.started)


def test_agentops_dev_cuts_a_step_longer_than_its_grace_and_hands_the_run_over(
    env: dict[str, str],
    web: Service,
    workers: Workers,
    workdir: Path,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    gh, _ = github
    sim, _ = llm
    for worker in [w for w in workers.started if w.process is not None]:
        workers.terminate(worker, within=GRACE + 5)  # the run goes to the dev process
    repo = "acme/dev-stop"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    sim.script(
        script.PLANNER,
        slow(20, text("never seen: the turn is cut")),
        text("**Change**\n1. planned on the next worker"),
    )
    planner_before = len(sim.requests_for(script.PLANNER))
    (workdir / "dev").mkdir()
    dev = Service(env | {"AGENTOPS_SHUTDOWN_GRACE_SECONDS": "2"}, workdir / "dev", dev=True)
    dev.start()
    try:
        number = gh.add_issue(repo, "Plan it", "Say how.", user="alice")
        run_id = script.comment_command(dev, gh, repo, number, "/agentops plan")
        wait_for(lambda: _step_running(dev, run_id, "plan"), 60, what="the plan step")
        assert dev.web.process is not None
        began = time.monotonic()
        os.kill(dev.web.process.pid, signal.SIGTERM)
        assert dev.web.process.wait(2 + 15) == 0, dev.web.output()[-3000:]
        assert 2 <= time.monotonic() - began < 2 + 5
        log = dev.web.output()
        assert "still running after 2 s: their steps are cut" in log, log[-3000:]
        assert f"run {run_id}: handed over" in log, log[-3000:]
    finally:
        dev.stop()

    workers.start()
    run = wait_for(lambda: web.finished(run_id), 60, what="the run on a worker")
    assert run["status"] == "succeeded", (run["error"], workers.logs())
    assert run["attempts"] == 2
    _steps_once(run)
    assert len(sim.requests_for(script.PLANNER)) - planner_before == 2  # the cut turn, again
    [reply] = _bot_comments(gh, repo, number)
    assert "planned on the next worker" in reply
    assert _completed_once(gh, repo, run_id)["conclusion"] == "success"
