"""A stopping worker cuts a step while a GitLab call is under way in its thread (python-gitlab
blocks; the thread goes on): the hand-over waits for that call, so the next worker finds
what it posted instead of posting it again. A merge request is not opened twice either
way. A worker cut mid-close leaves the next one only the rest of the close: the status is
completed once, the person told once. A run whose cancel was asked while no worker ran
it is closed as cancelled by the worker the sweep hands it to, once.

Real PostgreSQL and Redis; the GitLab simulator on loopback, its slow answers made with
`delay` (the request is carried out when the delay is over, as a slow GitLab does).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from app.commands import Command, CommandName
from app.config import Settings
from app.events import RunRequest, TenantKey
from app.forges.gitlab.forge import GitLabForge
from app.forges.threads import tracking
from app.queue import RunQueue, job_id_for_run
from app.store import Database
from app.store import runs as run_store
from app.store.runs import Run
from app.workflow.context import WorkflowDeps
from app.workflow.runner import execute_run
from jobs.graceful import hand_over
from jobs.workflows import requeue_stale_runs, run_workflow
from tests.intake_once import accept_once
from tests.sim.gitlab import GitLabSim

PROJECT = "team/cut"
SLOW = 3.0  # seconds GitLab takes to answer the slow call
NOTE_POST = r" /projects/team/cut/issues/\d+/notes$"


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitLabSim, str]]:
    sim = GitLabSim(tmp_path_factory.mktemp("gl"))
    sim.add_user("dana")
    sim.add_project(PROJECT, {"app.py": "x = 1\n"})
    sim.set_access(PROJECT, "dana", 40)
    with sim.serve() as url:
        yield sim, url


def _settings(sim: GitLabSim, url: str, redis_url: str, queue_name: str, workdir: Path) -> Settings:
    return Settings(
        database_url="postgresql://unused",
        redis_url=redis_url,
        queue_name=queue_name,
        workdir=workdir,
        gitlab_url=url,
        gitlab_token=SecretStr(sim.bot_token),
        gitlab_webhook_secret=SecretStr("s"),
        forge_timeout_seconds=10,
        stale_run_seconds=60,
    )


@pytest.fixture
async def deps(
    db: Database, gitlab: tuple[GitLabSim, str], redis_url: str, queue_name: str, tmp_path: Path
) -> AsyncIterator[WorkflowDeps]:
    settings = _settings(*gitlab, redis_url, queue_name, tmp_path)
    forge = GitLabForge(settings)
    queue = RunQueue(redis_url, queue_name)

    async def forge_for(run: Run) -> Any:
        return forge

    yield WorkflowDeps(settings=settings, db=db, queue=queue, forge_for=forge_for)
    await queue.close()
    r = aioredis.Redis.from_url(redis_url)
    await r.delete(*[k async for k in r.scan_iter(f"*{queue_name}*")] or ["none"])
    await r.aclose()


def _next_worker(deps: WorkflowDeps) -> WorkflowDeps:
    """Another worker's deps: the same services, not stopping."""
    return WorkflowDeps(deps.settings, deps.db, deps.queue, deps.forge_for)


async def _command(
    deps: WorkflowDeps, sim: GitLabSim, url: str, command: CommandName
) -> tuple[int, int]:
    """`/agentops <command>` written by dana on a new issue and accepted: (iid, run id)."""
    iid = sim.add_issue(PROJECT, f"Issue for {command}", author="dana")["iid"]
    note = sim.add_note(PROJECT, "issue", iid, f"/agentops {command}", author="dana")
    request = RunRequest(
        tenant=TenantKey("gitlab", f"{url}#{sim.project(PROJECT).id}"),
        repo=PROJECT,
        target_kind="issue",
        target_number=iid,
        command=Command(command),
        requested_by="dana",
        trigger="comment",
        trigger_key=f"cut:{note['id']}",
        comment_id=note["id"],
        context={"project_id": sim.project(PROJECT).id},
    )
    accepted = await accept_once(deps.db, deps.queue, request, f"d-{uuid.uuid4()}", "Note Hook")
    assert accepted.run_id is not None
    return iid, accepted.run_id


def _bot_notes(sim: GitLabSim, iid: int) -> list[str]:
    return [
        str(n["body"])
        for n in sim.notes(PROJECT, "issue", iid)
        if n["author"]["username"] == sim.bot.username
    ]


async def _run(db: Database, run_id: int) -> Run:
    async with db.admin() as conn:
        run = await run_store.get_run_all_tenants(conn, run_id)
    assert run is not None
    return run


async def _step_running(db: Database, run_id: int, name: str) -> None:
    for _ in range(200):
        async with db.admin() as conn:
            status = await conn.fetchval(
                "SELECT status FROM run_steps WHERE run_id = $1 AND name = $2", run_id, name
            )
        if status == "running":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"step {name} of run {run_id} never ran")


async def test_a_step_cut_during_a_slow_note_post_leaves_one_note(
    deps: WorkflowDeps, gitlab: tuple[GitLabSim, str], redis_url: str
) -> None:
    sim, url = gitlab
    iid, run_id = await _command(deps, sim, url, "help")
    sim.delay("POST", NOTE_POST, seconds=SLOW)  # GitLab takes 3 s over the help note
    ctx: dict[str, Any] = {"deps": deps, "job_try": 1}
    job = asyncio.create_task(run_workflow(ctx, run_id))
    await _step_running(deps.db, run_id, "reply:help")
    await asyncio.sleep(0.5)  # the POST is at GitLab
    deps.stopping.set()  # the worker stops and its grace is over: the step is cut
    job.cancel()
    assert await job == "handed over"
    assert _bot_notes(sim, iid) == []  # GitLab has not answered yet

    began = time.monotonic()
    await hand_over(ctx)  # what ARQ calls once the job has ended
    [posted] = _bot_notes(sim, iid)  # in before the run is handed over
    assert time.monotonic() - began > 1.0  # it waited for the call under way
    r = aioredis.Redis.from_url(redis_url)
    try:
        job_id = job_id_for_run(deps.settings.queue_name, run_id)
        assert await r.zscore(deps.settings.queue_name, job_id) is not None
    finally:
        await r.aclose()

    assert await execute_run(_next_worker(deps), run_id) == "succeeded"
    await asyncio.sleep(0.5)
    assert _bot_notes(sim, iid) == [posted]  # found by its marker, not posted again
    assert (await _run(deps.db, run_id)).attempts == 2


async def test_a_merge_request_post_cut_and_tried_again_at_once_opens_one(
    deps: WorkflowDeps, gitlab: tuple[GitLabSim, str]
) -> None:
    sim, _ = gitlab
    forge = await deps.forge_for(None)  # type: ignore[arg-type]
    sim.push_files(PROJECT, "agentops/cut-mr", {"app.py": "x = 2\n"}, base="main")
    sim.delay("POST", r" /projects/team/cut/merge_requests$", seconds=SLOW)
    with tracking() as threads:
        first = asyncio.create_task(
            forge.open_pull_request(PROJECT, "agentops/cut-mr", "main", "Cut", "Body")
        )
        await asyncio.sleep(1.0)  # the POST is at GitLab
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # the next try, without waiting for the cut call: it opens the merge request ...
        again = await forge.open_pull_request(PROJECT, "agentops/cut-mr", "main", "Cut", "Body")
        # ... and the cut call, carried out late, is refused by GitLab (409): still one
        assert await threads.settled(SLOW + 5)
    mrs = [m for m in sim.merge_requests(PROJECT) if m["source_branch"] == "agentops/cut-mr"]
    assert [m["iid"] for m in mrs] == [again.target.number]


async def test_a_worker_cut_mid_close_leaves_the_next_one_only_the_rest(
    deps: WorkflowDeps, gitlab: tuple[GitLabSim, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, url = gitlab
    # `implement` with no model configured: the check opens, then the run fails
    iid, run_id = await _command(deps, sim, url, "implement")
    finish_run = run_store.finish_run
    cut_here = asyncio.Event()

    async def stopped_at_finish(*args: Any, **kwargs: Any) -> bool:
        cut_here.set()
        await asyncio.sleep(60)  # the worker stops here: status closed, run not finished
        raise AssertionError("not reached")

    monkeypatch.setattr(run_store, "finish_run", stopped_at_finish)
    sim.clear_requests()
    job = asyncio.create_task(execute_run(deps, run_id))
    await asyncio.wait_for(cut_here.wait(), 30)
    deps.stopping.set()
    job.cancel()
    assert await job == "handed over"
    monkeypatch.setattr(run_store, "finish_run", finish_run)
    assert (await _run(deps.db, run_id)).status == "running"
    sha = sim.head_sha(PROJECT, "main")
    assert sha is not None
    assert sim.statuses(PROJECT, sha)[-1]["status"] == "failed"
    closing_before = _closing_calls(sim)

    assert await execute_run(_next_worker(deps), run_id) == "failed"
    run = await _run(deps.db, run_id)
    assert run.error is not None and "closing" not in run.result
    assert _closing_calls(sim) == closing_before  # the status and note not closed again
    assert [r for r in sim.requests if r.method == "PUT"] == [
        r for r in sim.requests if r.method == "PUT" and r in closing_before
    ]
    told = [b for b in _bot_notes(sim, iid) if f"AgentOps run {run_id} " in b]
    assert len(told) == 1  # the failure said once, by the next worker
    statuses = [s["status"] for s in sim.statuses(PROJECT, sha)]
    assert statuses.count("failed") == 1 and statuses[-1] == "failed", statuses


def _closing_calls(sim: GitLabSim) -> list[Any]:
    """The status posts and note edits made so far."""
    return [
        r
        for r in sim.requests
        if (r.method == "POST" and "/statuses/" in r.path) or r.method == "PUT"
    ]


async def test_a_cancel_asked_while_no_worker_ran_the_run_closes_it_once(
    deps: WorkflowDeps, gitlab: tuple[GitLabSim, str], redis_url: str
) -> None:
    sim, url = gitlab
    iid, run_id = await _command(deps, sim, url, "implement")
    sim.delay("PUT", r"/notes/\d+$", seconds=SLOW)  # the run is under way when its worker stops
    job = asyncio.create_task(execute_run(deps, run_id))
    await asyncio.sleep(2.0)
    deps.stopping.set()
    job.cancel()
    assert await job == "handed over"
    await asyncio.sleep(SLOW)
    # `/agentops cancel` while no worker runs it: asked, and its job's abort asked of ARQ
    run = await _run(deps.db, run_id)
    async with deps.db.tenant(run.tenant_id) as tc:
        assert await run_store.request_cancel(tc, run_id) is not None
    await deps.queue.abort_run(run_id)
    async with deps.db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1", run_id
        )

    sweep_ctx = {"deps": _next_worker(deps)}
    assert await requeue_stale_runs(sweep_ctx) >= 1  # handed to another worker
    job_id = job_id_for_run(deps.settings.queue_name, run_id)
    r = aioredis.Redis.from_url(redis_url)
    try:
        assert await r.zscore(deps.settings.queue_name, job_id) is not None
        assert await r.zscore("arq:abort", job_id) is None  # ARQ will not drop it unstarted
    finally:
        await r.aclose()

    ctx: dict[str, Any] = {"deps": _next_worker(deps), "job_try": 1}
    assert await run_workflow(ctx, run_id) == "cancelled"
    run = await _run(deps.db, run_id)
    assert run.status == "cancelled" and run.finished_at is not None
    sha = sim.head_sha(PROJECT, "main")
    assert sha is not None
    assert sim.statuses(PROJECT, sha)[-1]["status"] == "canceled"
    assert len([b for b in _bot_notes(sim, iid) if "AgentOps: Cancelled" in b]) == 1
    assert not [b for b in _bot_notes(sim, iid) if "failed" in b]  # as a cancel: no comment

    async with deps.db.admin() as conn:
        await conn.execute(
            "UPDATE runs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1", run_id
        )
    before = len(sim.requests)
    await requeue_stale_runs(sweep_ctx)  # a finished run is nobody's to hand over
    assert (await _run(deps.db, run_id)).attempts == run.attempts
    assert len(sim.requests) == before
