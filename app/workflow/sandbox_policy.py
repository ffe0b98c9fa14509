"""The sandbox a run's tests get: the operator's limits, the repository's timeout, a
sized scratch area; and the operator's caps on what `.agentops.yml` may ask for."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from app.config import Settings
from app.repo_config import CAP_SETTINGS, RepoConfig, cap_repo_limits
from app.sandbox import SandboxLimits, SandboxPolicy
from app.sandbox.cgroups import cgroup_support, sweep_stale_groups
from app.sandbox.disk import ensure_sized_scratch, release_sized_scratch
from app.sandbox.report import isolation_report
from app.step_records import LIMITS, LimitsCapped
from app.workflow.context import RunContext

log = logging.getLogger(__name__)
MiB = 1024**2


def sandbox_limits(settings: Settings, config: RepoConfig) -> SandboxLimits:
    disk = settings.sandbox_disk_mb * MiB
    return SandboxLimits(
        wall_seconds=float(config.limits.test_timeout_seconds),
        processes=settings.sandbox_processes,
        run_memory_bytes=settings.sandbox_memory_mb * MiB,
        cpus=settings.sandbox_cpus,
        disk_bytes=disk,
        # no single process may outgrow the whole command's memory or disk either
        memory_bytes=max(SandboxLimits.memory_bytes, settings.sandbox_memory_mb * MiB),
        file_size_bytes=min(SandboxLimits.file_size_bytes, disk),
    )


def isolation_in_force(settings: Settings) -> tuple[bool | None, str]:
    """For `agentops doctor` and the worker's start-up line (see `isolation_report`)."""
    return isolation_report(
        sandbox_limits(settings, RepoConfig()),
        settings.sandbox_cgroup,
        settings.sandbox_allow_unsandboxed,
    )


def sweep_stale_cgroups(settings: Settings) -> int:
    """At the worker's start: empty cgroups a killed worker left (see `sweep_stale_groups`)."""
    return sweep_stale_groups(cgroup_support(settings.sandbox_cgroup))


async def policy_for_tests(
    settings: Settings, config: RepoConfig, scratch_root: Path
) -> SandboxPolicy:
    """The policy of a run's test commands; `scratch_root` (where the copies the tests run
    on and the commands' scratch dirs go) becomes a tmpfs of the disk limit when root."""
    await asyncio.to_thread(ensure_sized_scratch, scratch_root, settings.sandbox_disk_mb * MiB)
    return SandboxPolicy(
        limits=sandbox_limits(settings, config),
        python_env=settings.sandbox_python_env,
        scratch_root=scratch_root,
        cgroup_parent=settings.sandbox_cgroup,
    )


async def release_scratch(folder: Path) -> None:
    """Unmount the sized scratch areas under a run's folder, before it is deleted."""
    await asyncio.to_thread(release_sized_scratch, folder)


async def within_caps(ctx: RunContext, config: RepoConfig) -> RepoConfig:
    """`config` with `limits:` lowered to the operator's caps; what was lowered is logged
    and recorded as the run's `limits` step (shown in its check run)."""
    limits, notices = cap_repo_limits(config.limits, ctx.deps.settings.repo_limit_caps)
    if not notices:
        return config
    for name, value in limits.model_dump().items():
        if value != getattr(config.limits, name):
            log.warning(
                "run %s: %s limits.%s=%s capped at %s (%s)",
                ctx.run.id,
                ctx.run.repo,
                name,
                getattr(config.limits, name),
                value,
                CAP_SETTINGS[name],
            )

    async def record() -> LimitsCapped:
        return LimitsCapped(capped=notices)

    await ctx.step(LIMITS, record)
    return config.model_copy(update={"limits": limits})
