"""PostgreSQL stopped under a run on its last try: the job ends on a database error and
cannot record the run's end; once PostgreSQL is back, the sweep hands the run over and it
ends. A run never stays `running` with neither a job nor a live worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import running
from tests.e2e.harness import Service, wait_for
from tests.e2e.private_postgres import PrivatePostgres
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, slow, text

pytestmark = pytest.mark.e2e
REPO = "acme/pg-fault"


@pytest.fixture(scope="module")
def service_database_url(postgres: PrivatePostgres) -> str:
    return postgres.url("agentops")


@pytest.fixture(scope="module")
def on_its_own_postgres(
    service_env: dict[str, str], llm: tuple[LLMSimulator, str], workdir: Path
) -> Iterator[Service]:
    env = service_env | script.llm_env(llm[1])
    env |= {
        "AGENTOPS_JOB_MAX_TRIES": "1",  # every try is the last
        "AGENTOPS_HEARTBEAT_SECONDS": "1",
        "AGENTOPS_STALE_RUN_SECONDS": "4",
    }
    (workdir / "service").mkdir(exist_ok=True)
    with running(Service(env, workdir / "service")) as svc:
        yield svc


def test_a_run_whose_last_try_lost_the_database_is_handed_over_and_ends(
    on_its_own_postgres: Service,
    postgres: PrivatePostgres,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    service = on_its_own_postgres
    gh, _ = github
    sim, _ = llm
    gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "admin")
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    # the first plan takes 4 s: PostgreSQL goes away meanwhile
    sim.script(
        script.PLANNER,
        slow(4.0, text("**Change**\n1. first try")),
        text("**Change**\n1. `calc.py`: raise."),
    )
    run_id = script.comment_command(service, gh, REPO, number, "/agentops plan")
    wait_for(lambda: service.run(run_id)["status"] == "running", 30, what="the run to start")

    postgres.stop()
    time.sleep(5)  # the plan comes back; its step cannot be written; the job ends
    postgres.start()

    try:
        run = wait_for(lambda: service.finished(run_id), 90, what="the run to end after all")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{service.logs()[-6000:]}") from None
    assert run["status"] == "succeeded", run
    log = service.worker.output()
    assert f"run {run_id}: its worker stopped, or its job ended without finishing it" in log
    plans = [c for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login]
    assert plans and "calc.py" in plans[-1]["body"]
