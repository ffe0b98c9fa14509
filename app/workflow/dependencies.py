"""A run's prepare phase: the repository's dependencies, installed before the first model
call and shown as the `install` step of its check run (app/prepare does the work)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from app.config import Settings
from app.prepare import Prepared, PrepareSettings, plan_for, prepare
from app.prepare.egress import EgressRules
from app.prepare.plan import DEPS
from app.repo_config import RepoConfig
from app.sandbox import Runner, SandboxLimits, SandboxPolicy, resolve_test_command
from app.step_records import INSTALL, Installed
from app.toolchains import (
    TOOLS,
    PythonChoice,
    choose_python,
    offered_pythons,
    probe_python,
    requested_python,
    tool_version,
)
from app.workflow import workspace
from app.workflow.context import RunContext, RunRefused

MiB = 1024**2
COMPOSER_HOME = f"{DEPS}/.agentops/composer"


def toolchain_identity(python: str) -> str:
    """The versions of the toolchains an install uses: part of every cache key, so that
    an upgraded interpreter or package manager installs afresh."""
    versions = [f"python={tool_version((python, '--version'))}"]
    versions += [f"{name}={tool_version(argv)}" for name, argv in TOOLS if name != "phpunit"]
    return ";".join(versions)


def _runner(root: Path, config: RepoConfig) -> Runner | None:
    """The runner of the repository's tests: only what it needs is installed."""
    try:
        command = resolve_test_command(root, config.test, config.test_select)
    except ValueError:
        return None
    return command.runner if command is not None else None


def python_for(settings: Settings, root: Path) -> PythonChoice:
    """The interpreter the repository at `root` asks for, among those the worker offers."""
    default = probe_python(str(settings.sandbox_python_env / "bin" / "python"))
    return choose_python(requested_python(root), offered_pythons(settings.sandbox_pythons), default)


def prepare_settings(settings: Settings) -> PrepareSettings:
    disk = settings.prepare_disk_mb * MiB
    mirrors: dict[str, str] = {}
    files: dict[str, str] = {}
    if settings.prepare_pip_index_url:
        mirrors["PIP_INDEX_URL"] = settings.prepare_pip_index_url
    if settings.prepare_npm_registry:
        mirrors["npm_config_registry"] = settings.prepare_npm_registry
        mirrors["COREPACK_NPM_REGISTRY"] = settings.prepare_npm_registry  # pnpm, yarn
    if settings.prepare_corepack_integrity_keys is not None:
        mirrors["COREPACK_INTEGRITY_KEYS"] = settings.prepare_corepack_integrity_keys
    if settings.prepare_goproxy:
        mirrors["GOPROXY"] = settings.prepare_goproxy
    if url := settings.prepare_composer_repository:
        mirrors["COMPOSER_HOME"] = COMPOSER_HOME
        mirrors["COMPOSER_CACHE_DIR"] = "/tmp/composer-cache"  # noqa: S108 - inside
        files["composer/config.json"] = json.dumps(
            {
                "repositories": [{"type": "composer", "url": url}, {"packagist.org": False}],
                "config": {"secure-http": url.startswith("https:")},
            }
        )
    return PrepareSettings(
        rules=EgressRules.from_settings(
            settings.prepare_registries.split(","), settings.prepare_resolve.split(",")
        ),
        cache_root=settings.prepare_cache_dir or settings.workdir / "deps-cache",
        cache_cap_bytes=settings.prepare_cache_mb * MiB,
        limits=SandboxLimits(
            wall_seconds=float(settings.prepare_timeout_seconds),
            cpu_seconds=settings.prepare_timeout_seconds,
            processes=settings.sandbox_processes,
            run_memory_bytes=settings.prepare_memory_mb * MiB,
            memory_bytes=max(SandboxLimits.memory_bytes, settings.prepare_memory_mb * MiB),
            cpus=settings.sandbox_cpus,
            disk_bytes=disk,
            file_size_bytes=disk,
        ),
        mirrors=mirrors,
        files=files,
        ca_bundle=settings.prepare_ca_bundle,
    )


LOCAL_TENANT = "local"  # `agentops run` and replays share one cache


async def install_for(
    settings: Settings,
    root: Path,
    config: RepoConfig,
    policy: SandboxPolicy,
    *,
    folder: Path,
    tenant: str,
    label: str,
) -> Prepared:
    """The prepare phase on `root` (a run's checkout, only read), with the Python it asks
    for; see app/prepare and app/toolchains.py."""
    choice = await asyncio.to_thread(python_for, settings, root)
    chosen = choice.interpreter
    python = chosen.path if chosen else str(settings.sandbox_python_env / "bin" / "python")
    return await prepare(
        root,
        plan_for(
            root, config.setup, python, own_python=chosen is not None, runner=_runner(root, config)
        ),
        prepare_settings(settings),
        policy,
        tenant=tenant,
        area=folder / "prepare",
        toolchain=await asyncio.to_thread(toolchain_identity, python),
        label=label,
        allow_unsandboxed=settings.sandbox_allow_unsandboxed,
        ro_paths=(chosen.prefix,) if chosen else (),
        python=choice.note,
    )


def refusal(prepared: Prepared) -> RunRefused:
    return RunRefused(f"The repository's dependencies could not be installed: {prepared.failure}")


async def install_locally(
    settings: Settings, root: Path, config: RepoConfig, policy: SandboxPolicy, folder: Path
) -> Prepared:
    """`install_for` without a run (`agentops run`, `agentops replay`): refuses on failure;
    the caller releases the result."""
    prepared = await install_for(
        settings, root, config, policy, folder=folder, tenant=LOCAL_TENANT, label="local"
    )
    if prepared.failure is not None:
        raise refusal(prepared)
    return prepared


async def install_dependencies(
    ctx: RunContext, root: Path, config: RepoConfig, policy: SandboxPolicy
) -> Prepared:
    """`install_for` in a run, recorded once as its `install` step (a resumed run installs
    again, from the cache usually, without a new line). Refuses the run, with the
    installer's own words, when the install fails."""
    settings = ctx.deps.settings
    folder = workspace.run_folder(settings.workdir, ctx.run.id)
    done: list[Prepared] = []

    async def install() -> Prepared:
        prepared = await install_for(
            settings,
            root,
            config,
            policy,
            folder=folder,
            tenant=str(ctx.run.tenant_id),
            label=f"run {ctx.run.id}",
        )
        ctx.on_close.append(prepared.release)
        return prepared

    async def step() -> Installed:
        done.append(await install())
        if done[0].failure is not None:
            raise refusal(done[0])
        return Installed.model_validate(done[0].detail())

    own_python = (await asyncio.to_thread(python_for, settings, root)).interpreter is not None
    if not plan_for(root, config.setup, own_python=own_python, runner=_runner(root, config)).steps:
        return await install()  # nothing to install: no line in the check run
    await ctx.step(INSTALL, step)
    prepared = done[0] if done else await install()
    if prepared.failure is not None:
        raise refusal(prepared)
    return prepared
