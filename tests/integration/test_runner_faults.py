"""The worker's run execution against the GitHub simulator: faults, retries, resuming."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.commands import Command
from app.config import Settings
from app.events import RunRequest, TenantKey
from app.forges.github.auth import GitHubApp
from app.forges.markers import unmarked
from app.forges.retry import RetryPolicy
from app.queue import RunQueue
from app.store import Database
from app.store import runs as run_store
from app.store.runs import Run
from app.workflow.context import WorkflowDeps
from app.workflow.runner import TransientRunError, execute_run
from tests.intake_once import accept_once
from tests.sim.github import GitHubSim
from tests.sim.serve import serve_app

REPO = "acme/faults"
_comment_ids = itertools.count(5_000_000)


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitHubSim, str]]:
    sim = GitHubSim(tmp_path_factory.mktemp("gh"))
    sim.add_repo(REPO, {"README.md": "hi\n"})
    sim.set_permission(REPO, "alice", "write")
    with serve_app(sim.app) as url:
        yield sim, url


@pytest.fixture
async def deps(
    db: Database, github: tuple[GitHubSim, str], redis_url: str, queue_name: str, tmp_path: Path
) -> AsyncIterator[WorkflowDeps]:
    sim, url = github
    settings = Settings(
        database_url="postgresql://unused",
        redis_url=redis_url,
        queue_name=queue_name,
        workdir=tmp_path,
    )
    app = GitHubApp(
        sim.app_id,
        sim.private_key_pem,
        api_url=url,
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
        bot_login=sim.bot_login,
    )
    queue = RunQueue(redis_url, queue_name)

    async def forge_for(run: Run) -> Any:
        return app.forge(int(run.context["installation_id"]))

    yield WorkflowDeps(settings=settings, db=db, queue=queue, forge_for=forge_for)
    await queue.close()
    await app.aclose()


async def _help_run(deps: WorkflowDeps, sim: GitHubSim, number: int) -> int:
    comment_id = sim.add_comment(REPO, number, "/agentops help", user="alice")
    request = RunRequest(
        tenant=TenantKey("github", str(sim.installation_id(REPO))),
        repo=REPO,
        target_kind="issue",
        target_number=number,
        command=Command("help"),
        requested_by="alice",
        trigger="comment",
        trigger_key=f"t:{next(_comment_ids)}",
        comment_id=comment_id,
        context={"installation_id": sim.installation_id(REPO)},
    )
    result = await accept_once(deps.db, deps.queue, request, f"d-{uuid.uuid4()}", "issue_comment")
    assert result.run_id is not None
    return result.run_id


def _bot_comments(sim: GitHubSim, number: int) -> list[str]:
    """The bot's comments as people read them (without the hidden markers)."""
    return [
        unmarked(c["body"])
        for c in sim.comments(REPO, number)
        if c["user"]["login"] == sim.bot_login
    ]


async def test_rate_limit_defers_and_the_rerun_resumes_without_repeating(
    deps: WorkflowDeps, github: tuple[GitHubSim, str]
) -> None:
    sim, _ = github
    number = sim.add_issue(REPO, "Rate limited", user="alice")
    run_id = await _help_run(deps, sim, number)
    sim.fail_next(r"GET /repos/.*/collaborators/.*/permission", "429", retry_after=42)

    with pytest.raises(TransientRunError) as caught:
        await execute_run(deps, run_id)
    assert caught.value.defer == pytest.approx(42, abs=1)
    assert _bot_comments(sim, number) == []

    assert await execute_run(deps, run_id) == "succeeded"
    assert len(_bot_comments(sim, number)) == 1
    run = await _get(deps, run_id)
    assert run.attempts == 2
    comment_id = run.comment_id
    assert sim.reactions(REPO, comment_id=comment_id) == ["eyes"]  # acknowledged once

    assert await execute_run(deps, run_id) == "succeeded"  # a third delivery of the job
    assert len(_bot_comments(sim, number)) == 1


async def test_last_try_of_a_failing_forge_closes_the_run_and_says_why(
    deps: WorkflowDeps, github: tuple[GitHubSim, str]
) -> None:
    sim, _ = github
    number = sim.add_issue(REPO, "Flaky forge", user="alice")
    run_id = await _help_run(deps, sim, number)
    sim.fail_next(r"GET /repos/.*/collaborators/.*/permission", "502", count=2)  # every attempt

    assert await execute_run(deps, run_id, last_try=True) == "failed"
    run = await _get(deps, run_id)
    assert run.error is not None and "kept failing" in run.error
    replies = _bot_comments(sim, number)
    assert len(replies) == 1 and "/agentops retry" in replies[0]


async def test_an_integration_without_access_is_told_not_retried(
    deps: WorkflowDeps, github: tuple[GitHubSim, str]
) -> None:
    sim, _ = github
    number = sim.add_issue(REPO, "No access", user="alice")
    run_id = await _help_run(deps, sim, number)
    sim.fail_next(r"POST /repos/.*/issues/\d+/comments", "not_accessible")

    assert await execute_run(deps, run_id) == "failed"
    run = await _get(deps, run_id)
    assert run.error is not None and "grant the missing permission" in run.error
    assert run.attempts == 1


async def _get(deps: WorkflowDeps, run_id: int) -> Run:
    async with deps.db.admin() as conn:
        run = await run_store.get_run_all_tenants(conn, run_id)
    assert run is not None
    return run


async def test_the_cancel_button_of_a_check_run_cancels_its_run(
    deps: WorkflowDeps, github: tuple[GitHubSim, str]
) -> None:
    sim, _ = github
    number = sim.add_issue(REPO, "Long job", user="alice")
    installation = sim.installation_id(REPO)
    work = RunRequest(
        tenant=TenantKey("github", str(installation)),
        repo=REPO,
        target_kind="issue",
        target_number=number,
        command=Command("implement"),
        requested_by="alice",
        trigger="comment",
        trigger_key=f"t:{next(_comment_ids)}",
        context={"installation_id": installation},
    )
    queued = await accept_once(deps.db, deps.queue, work, f"d-work-{uuid.uuid4()}", "issue_comment")
    assert queued.run_id is not None
    button = RunRequest(
        tenant=TenantKey("github", str(installation)),
        repo=REPO,
        target_kind="issue",
        target_number=0,
        command=Command("cancel"),
        requested_by="alice",
        trigger="check_run",
        trigger_key=f"t:{next(_comment_ids)}",
        context={"installation_id": installation},
        refers_to_run=queued.run_id,
    )
    clicked = await accept_once(
        deps.db, deps.queue, button, f"d-button-{uuid.uuid4()}", "check_run"
    )
    assert clicked.run_id is not None

    assert await execute_run(deps, clicked.run_id) == "succeeded"
    assert (await _get(deps, queued.run_id)).status == "cancelled"
    assert _bot_comments(sim, number) == [f"Cancelling run {queued.run_id}, as `@alice` asked."]


async def test_a_reply_the_forge_wrote_before_failing_is_not_repeated_by_the_next_try(
    deps: WorkflowDeps, github: tuple[GitHubSim, str]
) -> None:
    sim, _ = github
    number = sim.add_issue(REPO, "Written, then 500", user="alice")
    run_id = await _help_run(deps, sim, number)
    sim.fail_next(r"POST /repos/.*/issues/\d+/comments$", "500", applied=True)
    sim.fail_next(r"GET /repos/.*/issues/\d+/comments$", "502", count=2)  # the lookup too

    with pytest.raises(TransientRunError):
        await execute_run(deps, run_id)
    assert len(_bot_comments(sim, number)) == 1  # written, though GitHub said 500

    assert await execute_run(deps, run_id) == "succeeded"  # the job's next try
    [reply] = _bot_comments(sim, number)
    assert "/agentops implement" in reply
