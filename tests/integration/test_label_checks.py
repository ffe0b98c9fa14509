"""Repository labels (`labels:` in `.agentops.yml`): the intake stores a label check, the
worker reads the file from the default branch over real git and starts the run or drops
the check. Real PostgreSQL and Redis; the GitHub and GitLab simulators on loopback."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from app import git_tip
from app.commands import TargetKind
from app.config import Settings
from app.events import LabelCheck, TenantKey
from app.forges.base import Forge
from app.forges.github.auth import GitHubApp
from app.forges.gitlab.forge import GitLabForge
from app.forges.retry import RetryPolicy
from app.queue import RunQueue, job_id_for_label_check, job_id_for_run
from app.store import Database
from app.workflow.context import WorkflowDeps
from app.workflow.labels import RepoLabelCache, check_labels, repository_labels
from app.workflow.runner import TransientRunError
from jobs.workflows import requeue_stale_runs
from tests.intake_once import accept_once
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.serve import serve_app

REPO = "acme/labelled"
BARE_REPO = "acme/plain"
PROJECT = "team/labelled"
CONFIG = (
    "labels:\n  bot-please: implement\n  needs-tests: test\n"
    "  agentops: review\n"
)  # `agentops` is the operator's: this line means nothing
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
_deliveries = itertools.count(1)


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitHubSim, str]]:
    sim = GitHubSim(tmp_path_factory.mktemp("gh"))
    sim.add_repo(REPO, {"README.md": "hi\n", ".agentops.yml": CONFIG})
    sim.add_repo(BARE_REPO, {"README.md": "no config here\n"})
    with serve_app(sim.app) as url:
        yield sim, url


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitLabSim, str]]:
    sim = GitLabSim(tmp_path_factory.mktemp("gl"))
    sim.add_user("dana")
    sim.add_project(PROJECT, {"README.md": "hi\n", ".agentops.yml": CONFIG})
    with sim.serve() as url:
        yield sim, url


@pytest.fixture
async def env(
    db: Database,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    redis_url: str,
    queue_name: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[WorkflowDeps, Any]]:
    gh, gh_url = github
    gl, gl_url = gitlab
    settings = Settings(
        database_url="postgresql://unused",
        redis_url=redis_url,
        queue_name=queue_name,
        workdir=tmp_path,
        requeue_after_seconds=0,
    )
    app = GitHubApp(
        gh.app_id, gh.private_key_pem, api_url=gh_url, retry=FAST, bot_login=gh.bot_login
    )
    gitlab_forge = GitLabForge(
        Settings(
            gitlab_url=gl_url,
            gitlab_token=SecretStr(gl.bot_token),
            gitlab_webhook_secret=SecretStr("s"),
        ),
        retry=FAST,
    )
    queue = RunQueue(redis_url, queue_name)

    async def forge_for(forge: str, context: Mapping[str, Any]) -> Forge:
        if forge == "github":
            return app.forge(int(context["installation_id"]))
        return gitlab_forge

    yield WorkflowDeps(settings=settings, db=db, queue=queue, forge_for=_no_runs), forge_for
    await queue.close()
    await app.aclose()
    await gitlab_forge.aclose()
    r = aioredis.Redis.from_url(redis_url)
    job_ids = [j.decode() for j in await r.zrange(queue_name, 0, -1)]
    await r.delete(queue_name, *(f"arq:job:{j}" for j in job_ids))
    await r.aclose()


async def _no_runs(run: Any) -> Forge:
    raise AssertionError("a label check never executes a run itself")


def github_check(
    sim: GitHubSim,
    labels: tuple[str, ...],
    *,
    repo: str = REPO,
    kind: TargetKind = "issue",
    delivery: str,
) -> LabelCheck:
    installation = sim.installation_id(repo)
    return LabelCheck(
        TenantKey("github", str(installation)),
        repo,
        kind,
        7,
        labels,
        "alice",
        f"github:label:{delivery}",
        {"installation_id": installation, "repo_id": 1},
    )


async def _accept(deps: WorkflowDeps, check: LabelCheck, delivery: str) -> int:
    result = await accept_once(deps.db, deps.queue, check, delivery, "issues")
    assert result.status_code == 202, result.text
    assert result.text.startswith("accepted: label check ")
    return int(result.text.split()[-1])


async def _queued(deps: WorkflowDeps) -> list[str]:
    r = aioredis.Redis.from_url(deps.settings.redis_url)
    try:
        return [j.decode() for j in await r.zrange(deps.settings.queue_name, 0, -1)]
    finally:
        await r.aclose()


async def _row(db: Database, sql: str, *args: Any) -> Any:
    async with db.admin() as conn:
        return await conn.fetchrow(sql, *args)


async def test_a_repository_label_starts_the_run_an_operator_label_would(
    env: tuple[WorkflowDeps, Any], github: tuple[GitHubSim, str]
) -> None:
    deps, forge_for = env
    sim, _ = github
    delivery = f"lab-{next(_deliveries)}"
    check_id = await _accept(deps, github_check(sim, ("bot-please",), delivery=delivery), delivery)
    assert job_id_for_label_check(deps.settings.queue_name, check_id) in await _queued(deps)
    assert (
        await _row(deps.db, "SELECT * FROM runs WHERE trigger_key = $1", f"github:label:{delivery}")
        is None
    )

    assert await check_labels(deps, check_id, forge_for) == "started"
    run = await _row(
        deps.db, "SELECT * FROM runs WHERE trigger_key = $1", f"github:label:{delivery}"
    )
    assert (run["command"], run["trigger"], run["status"], run["requested_by"]) == (
        "implement",
        "label",
        "queued",
        "alice",
    )
    assert '"label_source": "repository"' in run["context"]
    assert job_id_for_run(deps.settings.queue_name, run["id"]) in await _queued(deps)
    delivery_row = await _row(
        deps.db, "SELECT run_id FROM deliveries WHERE delivery_id = $1", delivery
    )
    assert delivery_row["run_id"] == run["id"]
    assert await _row(deps.db, "SELECT 1 FROM label_checks WHERE id = $1", check_id) is None

    # the job run twice, and a redelivery of the webhook, add nothing
    assert await check_labels(deps, check_id, forge_for) == "missing"
    again = await accept_once(
        deps.db,
        deps.queue,
        github_check(sim, ("bot-please",), delivery=delivery),
        delivery,
        "issues",
    )
    assert (again.status_code, again.text, again.run_id) == (
        200,
        "duplicate: duplicate delivery",
        run["id"],
    )


async def test_an_unrelated_label_leaves_no_run_and_no_check(
    env: tuple[WorkflowDeps, Any], github: tuple[GitHubSim, str]
) -> None:
    deps, forge_for = env
    sim, _ = github
    before = len(sim.requests)
    cases: list[tuple[tuple[str, ...], TargetKind, str]] = [
        (("bug",), "issue", REPO),
        (("needs-tests",), "issue", REPO),  # `test`: PRs only
        (("agentops",), "pull_request", REPO),  # operator's label
        (("bot-please",), "issue", BARE_REPO),  # no .agentops.yml
    ]
    for labels, kind, repo in cases:
        delivery = f"lab-{next(_deliveries)}"
        check = github_check(sim, labels, kind=kind, repo=repo, delivery=delivery)
        check_id = await _accept(deps, check, delivery)
        assert await check_labels(deps, check_id, forge_for) == "ignored", labels
        assert (
            await _row(deps.db, "SELECT 1 FROM runs WHERE trigger_key = $1", check.trigger_key)
            is None
        )
        assert await _row(deps.db, "SELECT 1 FROM label_checks WHERE id = $1", check_id) is None
        again = await accept_once(deps.db, deps.queue, check, delivery, "issues")
        assert (again.status_code, again.text) == (200, "duplicate: duplicate delivery")
    writes = [
        r
        for r in sim.requests[before:]
        if r.method != "GET" and not r.path.endswith(("/git-upload-pack", "/access_tokens"))
    ]
    assert writes == []  # no comment, reaction or check run


async def test_the_label_map_follows_the_default_branch(
    env: tuple[WorkflowDeps, Any], github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    _, forge_for = env
    sim, _ = github
    forge = await forge_for("github", {"installation_id": sim.installation_id(REPO)})
    cache = RepoLabelCache()
    assert (await repository_labels(forge, REPO, tmp_path, cache))["bot-please"] == "implement"
    before = len(sim.requests)
    await repository_labels(forge, REPO, tmp_path, cache)
    cached_requests = len(sim.requests) - before  # ls-remote only: the commit is known
    sim.push_branch(REPO, "main", {".agentops.yml": "labels: {ai: plan}\n"}, message="cfg")
    before = len(sim.requests)
    assert await repository_labels(forge, REPO, tmp_path, cache) == {"ai": "plan"}
    assert len(sim.requests) - before > cached_requests
    sim.push_branch(REPO, "main", {".agentops.yml": CONFIG}, message="cfg back")


async def test_only_the_file_is_fetched_where_the_forge_allows_filters(
    env: tuple[WorkflowDeps, Any], github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    _, forge_for = env
    sim, _ = github
    repo = "acme/filtered"
    sim.add_repo(repo, {".agentops.yml": "labels: {big: implement}\n", "large.bin": "x" * 200_000})
    subprocess.run(
        ["git", "config", "uploadpack.allowFilter", "true"], cwd=sim.bare_path(repo), check=True
    )
    forge = await forge_for("github", {"installation_id": sim.installation_id(repo)})
    remote = await forge.git_remote(repo)
    dest = tmp_path / "probe"
    sha, text = await git_tip.read_file_at_tip(remote, "main", ".agentops.yml", dest)
    assert (sha, text) == (sim.branch_sha(repo, "main"), "labels: {big: implement}\n")
    objects = subprocess.run(
        ["git", "rev-list", "--objects", "--missing=print", "HEAD"],
        cwd=dest,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    large = subprocess.run(
        ["git", "rev-parse", "HEAD:large.bin"], cwd=dest, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert f"?{large}" in objects.split()  # never fetched
    assert await git_tip.read_file_at_tip(remote, "main", "absent.yml", tmp_path / "again") == (
        sha,
        None,
    )

    assert await repository_labels(forge, repo, tmp_path, RepoLabelCache()) == {"big": "implement"}
    assert not list((tmp_path / "label-checks").iterdir())  # the scratch clone is gone


async def test_gitlab_label_checks_read_the_project(
    env: tuple[WorkflowDeps, Any], gitlab: tuple[GitLabSim, str]
) -> None:
    deps, forge_for = env
    sim, url = gitlab
    project = sim.project(PROJECT)
    delivery = f"gl-{next(_deliveries)}"
    check = LabelCheck(
        TenantKey("gitlab", f"{url}#{project.id}", PROJECT),
        PROJECT,
        "pull_request",
        3,
        ("wip", "needs-tests"),
        "dana",
        f"gitlab:{url}:label:{delivery}",
        {"project_id": project.id, "instance_url": url},
    )
    check_id = await _accept(deps, check, delivery)
    assert await check_labels(deps, check_id, forge_for) == "started"
    run = await _row(deps.db, "SELECT * FROM runs WHERE trigger_key = $1", check.trigger_key)
    assert (run["command"], run["target_kind"], run["forge"]) == ("test", "pull_request", "gitlab")
    assert '"label": "needs-tests"' in run["context"]


async def test_a_forge_that_fails_is_retried_then_the_check_is_dropped_quietly(
    env: tuple[WorkflowDeps, Any], github: tuple[GitHubSim, str]
) -> None:
    deps, forge_for = env
    sim, _ = github
    delivery = f"lab-{next(_deliveries)}"
    check_id = await _accept(deps, github_check(sim, ("bot-please",), delivery=delivery), delivery)
    sim.fail_next(r"GET /repos/acme/labelled$", "502", count=2)
    with pytest.raises(TransientRunError):
        await check_labels(deps, check_id, forge_for)
    assert await _row(deps.db, "SELECT 1 FROM label_checks WHERE id = $1", check_id)
    sim.fail_next(r"GET /repos/acme/labelled$", "502", count=2)
    assert await check_labels(deps, check_id, forge_for, last_try=True) == "ignored"
    assert await _row(deps.db, "SELECT 1 FROM label_checks WHERE id = $1", check_id) is None


async def test_a_check_accepted_while_redis_was_down_is_queued_by_the_sweep(
    env: tuple[WorkflowDeps, Any], github: tuple[GitHubSim, str]
) -> None:
    deps, _ = env
    sim, _ = github
    delivery = f"lab-{next(_deliveries)}"
    down = RunQueue("redis://127.0.0.1:1/0", deps.settings.queue_name)
    result = await accept_once(
        deps.db, down, github_check(sim, ("bot-please",), delivery=delivery), delivery, "issues"
    )
    assert result.status_code == 202
    check_id = int(result.text.split()[-1])
    job_id = job_id_for_label_check(deps.settings.queue_name, check_id)
    assert job_id not in await _queued(deps)

    assert await requeue_stale_runs({"deps": deps}) >= 1
    assert job_id in await _queued(deps)
    # the next sweep finds its job there and leaves it as it is (its place in the queue)
    r = aioredis.Redis.from_url(deps.settings.redis_url)
    try:
        before = await r.zscore(deps.settings.queue_name, job_id)
        await asyncio.sleep(0.01)
        await requeue_stale_runs({"deps": deps})
        assert await r.zscore(deps.settings.queue_name, job_id) == before
    finally:
        await r.aclose()
