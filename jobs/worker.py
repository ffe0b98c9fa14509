"""The ARQ worker: `WorkerSettings` built from the process settings."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import func

import app.metrics.sandbox  # noqa: F401  (counts the sandbox's commands in this process)
from app.config import Settings
from app.forges.github.spec import KIND as GITHUB
from app.forges.gitlab.spec import KIND as GITLAB
from app.forges.registry import ForgeRegistry, display_name
from app.queue import CHECK_LABELS, RUN_WORKFLOW, RunQueue, redis_settings
from app.sandbox import probe_python, probe_sandbox
from app.store.db import connect_when_up
from app.toolchains import toolchain_report
from app.workflow.context import WorkflowDeps
from app.workflow.leftovers import remove_ended_run_folders
from app.workflow.sandbox_policy import isolation_in_force, sweep_stale_cgroups
from jobs.graceful import GracefulWorker, hand_over
from jobs.redelivery import redeliver_github, redeliver_gitlab
from jobs.resilient import RETRY_AT_START, RedisAtStart
from jobs.sweeper import SWEEP_EVERY, Sweep, sweep_forever
from jobs.workflows import check_repository_labels, requeue_stale_runs, run_workflow

log = logging.getLogger(__name__)


def worker_settings(settings: Settings, stopping: asyncio.Event | None = None) -> dict[str, Any]:
    """ARQ `WorkerSettings` (the keyword arguments of `arq.Worker`) for these settings;
    `stopping`: set when the worker stops (jobs/graceful.py).

    A function rather than a class: the values come from the environment, validated by
    `Settings`, so nothing is read at import time.
    """
    stopping = stopping or asyncio.Event()

    async def startup(ctx: dict[str, Any]) -> None:
        sandbox = probe_sandbox()
        if sandbox.available:
            log.info("test sandbox: %s", sandbox.detail)
        else:
            log.warning(
                "no test sandbox (%s): runs that test code will refuse%s",
                sandbox.detail,
                " (unsandboxed runs allowed)" if settings.sandbox_allow_unsandboxed else "",
            )
        isolated, isolation = await asyncio.to_thread(isolation_in_force, settings)
        if swept := await asyncio.to_thread(sweep_stale_cgroups, settings):
            log.info("removed %d empty sandbox cgroups left by a stopped worker", swept)
        if isolated:
            log.info("test isolation: %s", isolation)
        else:
            log.warning("test isolation: %s", isolation)
        for name, version in await asyncio.to_thread(toolchain_report, settings.sandbox_pythons):
            log.info("toolchain %s: %s", name, version or "not found")
        has_pytest, python = await asyncio.to_thread(probe_python, settings.sandbox_python_env)
        if has_pytest:
            log.info("test Python: %s", python)
        else:
            log.warning("test Python: %s", python)
        db = await connect_when_up(
            settings.database_url,
            min_size=1,
            max_size=5,
            tenant_dsn=settings.tenant_database_url,
        )
        if removed := await remove_ended_run_folders(settings.workdir, db):
            log.info("removed %d run folders left by a stopped worker (runs ended)", removed)
        forges = ForgeRegistry(settings)
        ctx["forges"] = forges
        ctx["sweeper"] = asyncio.create_task(
            sweep_forever(ctx, requeue_stale_runs, f"{settings.queue_name}:sweep", SWEEP_EVERY)
        )
        # each at start too: what was posted while this worker was down
        if settings.github_enabled and settings.github_redeliver_seconds > 0:
            every = settings.github_redeliver_seconds
            ctx["redeliverer"] = _redelivery(ctx, settings, GITHUB, redeliver_github, every)
        if settings.gitlab_enabled and settings.gitlab_redeliver_seconds > 0:
            every = settings.gitlab_redeliver_seconds
            ctx["gitlab_redeliverer"] = _redelivery(ctx, settings, GITLAB, redeliver_gitlab, every)
        ctx["deps"] = WorkflowDeps(
            settings=settings,
            db=db,
            queue=RunQueue(settings.redis_url, settings.queue_name),
            forge_for=forges.for_run,
            stopping=stopping,
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        periodic = [
            ctx.pop(name)
            for name in ("sweeper", "redeliverer", "gitlab_redeliverer")
            if name in ctx
        ]
        for task in periodic:
            task.cancel()
        if periodic:
            # Each gives back its interval's Redis lock as it ends: before ARQ closes Redis,
            # or a worker started next waits out the turn (270 s of the redelivery's 300).
            await asyncio.wait(periodic, timeout=5)
        deps: WorkflowDeps | None = ctx.get("deps")
        if deps is not None:
            await deps.queue.close()
            await deps.db.close()
        if "forges" in ctx:
            await ctx["forges"].aclose()

    return {
        "functions": [
            func(
                run_workflow,
                name=RUN_WORKFLOW,
                timeout=settings.job_timeout_seconds,
                max_tries=settings.job_max_tries,
            ),
            func(
                check_repository_labels,
                name=CHECK_LABELS,
                timeout=300,
                max_tries=settings.job_max_tries,
            ),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "after_job_end": hand_over,
        "redis_settings": redis_settings(settings.redis_url),
        "queue_name": settings.queue_name,
        "allow_abort_jobs": True,
        "max_tries": settings.job_max_tries,
        "keep_result": 3600,
        "poll_delay": 0.2,
        "handle_signals": True,
    }


def _redelivery(
    ctx: dict[str, Any], settings: Settings, kind: str, redeliver: Sweep, every: float
) -> asyncio.Task[None]:
    """The periodic look for `kind`'s lost deliveries (jobs/redelivery.py), at start too."""
    lock = f"{settings.queue_name}:redeliver" + ("" if kind == GITHUB else f":{kind}")
    name = f"the {display_name(kind)} redelivery"
    return asyncio.create_task(sweep_forever(ctx, redeliver, lock, every, name, at_start=True))


def build_worker(settings: Settings, handle_signals: bool = True) -> GracefulWorker:
    """The worker; `handle_signals`: it drains on SIGTERM/SIGINT itself (else whoever owns
    the signals calls its `stop`)."""
    stopping = asyncio.Event()
    options = worker_settings(settings, stopping)
    options["handle_signals"] = handle_signals
    # Redis may be down when the worker starts: keep trying rather than exit, saying so
    # once; once started, ResilientWorker waits out an outage.
    options["redis_settings"].conn_retries = 1_000_000
    options["redis_settings"].conn_retry_delay = RETRY_AT_START
    arq_connections = logging.getLogger("arq.connections")
    for old in [f for f in arq_connections.filters if isinstance(f, RedisAtStart)]:
        arq_connections.removeFilter(old)
    at_start = RedisAtStart()
    arq_connections.addFilter(at_start)
    startup = options["on_startup"]

    async def on_startup(ctx: dict[str, Any]) -> None:
        at_start.came_up()
        await startup(ctx)

    options["on_startup"] = on_startup
    return GracefulWorker(
        stopping=stopping,
        grace=settings.shutdown_grace_seconds,
        **options,
    )
