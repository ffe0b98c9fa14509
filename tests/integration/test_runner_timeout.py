"""A job that outlives its timeout still closes its run, its status and tells the person;
one cut as its worker stops closes nothing: the run goes on elsewhere."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.commands import Command
from app.config import Settings
from app.events import RunRequest, TenantKey
from app.forges.gitlab.forge import GitLabForge
from app.queue import RunQueue
from app.store import Database
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.runs import Run
from app.workflow.context import WorkflowDeps
from app.workflow.runner import HANDED_OVER, execute_run
from tests.intake_once import accept_once
from tests.sim.gitlab import GitLabSim

PROJECT = "team/slow"


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitLabSim, str]]:
    sim = GitLabSim(tmp_path_factory.mktemp("gl"))
    sim.add_user("dana")
    sim.add_project(PROJECT, {"app.py": "x = 1\n"})
    sim.set_access(PROJECT, "dana", 40)
    with sim.serve() as url:
        yield sim, url


@pytest.fixture
async def deps(
    db: Database, gitlab: tuple[GitLabSim, str], redis_url: str, queue_name: str, tmp_path: Path
) -> AsyncIterator[WorkflowDeps]:
    sim, url = gitlab
    settings = Settings(
        database_url="postgresql://unused",
        redis_url=redis_url,
        queue_name=queue_name,
        workdir=tmp_path,
        gitlab_url=url,
        gitlab_token=SecretStr(sim.bot_token),
        gitlab_webhook_secret=SecretStr("s"),
        forge_timeout_seconds=10,
    )
    forge = GitLabForge(settings)
    queue = RunQueue(redis_url, queue_name)

    async def forge_for(run: Run) -> Any:
        return forge

    yield WorkflowDeps(settings=settings, db=db, queue=queue, forge_for=forge_for)
    await queue.close()


async def test_a_timed_out_job_closes_its_status_and_says_why(
    deps: WorkflowDeps, gitlab: tuple[GitLabSim, str]
) -> None:
    sim, url = gitlab
    iid, run_id = await _implement_with_a_hanging_note(deps, sim, url, "Slow", "timeout")

    # ARQ enforces the job timeout with asyncio.wait_for, exactly like this.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(execute_run(deps, run_id), timeout=2.5)

    async with deps.db.admin() as conn:
        run = await run_store.get_run_all_tenants(conn, run_id)
    assert run is not None and run.status == "failed"
    assert run.error == "the run took longer than the job timeout"
    sha = sim.head_sha(PROJECT, "main")
    assert sha is not None
    assert [s["status"] for s in sim.statuses(PROJECT, sha)][-1] == "failed"
    bodies = [n["body"] for n in sim.notes(PROJECT, "issue", iid)]
    assert any("took longer than the job timeout" in b for b in bodies)


async def test_a_run_cut_as_its_worker_stops_is_left_running_for_the_next_worker(
    deps: WorkflowDeps, gitlab: tuple[GitLabSim, str]
) -> None:
    sim, url = gitlab
    iid, run_id = await _implement_with_a_hanging_note(deps, sim, url, "Stopped", "stopping")

    job = asyncio.create_task(execute_run(deps, run_id))
    await asyncio.sleep(2.5)
    deps.stopping.set()  # the worker stops; its grace is over: it cuts the job
    job.cancel()
    assert await job == HANDED_OVER

    async with deps.db.admin() as conn:
        run = await run_store.get_run_all_tenants(conn, run_id)
        steps = await step_store.list_steps(conn, run_id)
    assert run is not None and run.status == "running" and run.error is None
    assert "failed" not in [s.status for s in steps]
    sha = sim.head_sha(PROJECT, "main")
    assert sha is not None
    assert [s["status"] for s in sim.statuses(PROJECT, sha)][-1] == "running"
    bodies = [n["body"] for n in sim.notes(PROJECT, "issue", iid)]
    assert not any("took longer" in b or "failed" in b for b in bodies)

    # a run whose worker stops between steps is handed over before its next step
    assert await execute_run(deps, run_id) == HANDED_OVER
    async with deps.db.admin() as conn:
        assert await step_store.list_steps(conn, run_id) == steps


async def _implement_with_a_hanging_note(
    deps: WorkflowDeps, sim: GitLabSim, url: str, title: str, key: str
) -> tuple[int, int]:
    """`/agentops implement` accepted on a new issue, whose first note update after the
    clone hangs for 5 s: (issue iid, run id)."""
    iid = sim.add_issue(PROJECT, title, author="dana")["iid"]
    note = sim.add_note(PROJECT, "issue", iid, "/agentops implement", author="dana")
    request = RunRequest(
        tenant=TenantKey("gitlab", f"{url}#{sim.project(PROJECT).id}"),
        repo=PROJECT,
        target_kind="issue",
        target_number=iid,
        command=Command("implement"),
        requested_by="dana",
        trigger="comment",
        trigger_key=f"{key}:{note['id']}",
        comment_id=note["id"],
        context={"project_id": sim.project(PROJECT).id},
    )
    accepted = await accept_once(deps.db, deps.queue, request, f"d-{uuid.uuid4()}", "Note Hook")
    assert accepted.run_id is not None
    sim.delay("PUT", r"/notes/\d+$", seconds=5, times=1)
    return iid, accepted.run_id
