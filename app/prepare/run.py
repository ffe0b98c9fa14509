"""The prepare phase: install a repository's dependencies once per run, in the sandbox.

The plan's commands run on the sandbox's own copy of the checkout, with the limits of
the prepare phase, `/deps` writable and the egress proxy as the only network. What they
install into `/deps`, `node_modules/` and `vendor/` is kept (moved into one `deps` tree);
everything else they write goes with the copy. That tree is published to the tenant's
cache when the plan allows, and reaches every later test command read-only
(`Prepared.apply`): at `/deps`, and over the copy's `node_modules/` and `vendor/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.prepare.cache import CacheEntry, CacheTooSmall, DependencyCache
from app.prepare.egress import EgressLog, EgressProxy, EgressRules
from app.prepare.plan import DEPS, GOMODCACHE, VENV, PreparePlan
from app.sandbox.disk import ensure_sized_scratch
from app.sandbox.execution import SandboxResult, run_sandboxed
from app.sandbox.isolation import WORKSPACE, Bind, SandboxLimits, SandboxPolicy, sandbox_env
from app.sandbox.workcopy import TreeTooLarge, remove_tree, work_copy

log = logging.getLogger(__name__)
KEPT_IN_TREE = ("node_modules", "vendor")  # installed into the checkout by npm, Composer
TAIL_CHARS = 2000


@dataclass(frozen=True)
class PrepareSettings:
    """The operator's settings of the prepare phase (app/config.py builds it)."""

    rules: EgressRules
    cache_root: Path
    cache_cap_bytes: int
    limits: SandboxLimits
    mirrors: dict[str, str] = field(default_factory=dict)  # variables for package managers
    files: dict[str, str] = field(default_factory=dict)  # their config, under /deps/.agentops
    ca_bundle: Path | None = None  # what they trust, bound read-only at the same path


@dataclass
class Prepared:
    plan: PreparePlan
    deps: Path | None = None  # the installed tree (a cache entry or the run's own)
    cache_hit: bool = False
    cached: bool = False  # published to (or taken from) the cache
    seconds: float = 0.0
    failure: str | None = None  # for people: "composer install failed: …"
    egress: EgressLog = field(default_factory=EgressLog)
    ro_paths: tuple[Path, ...] = ()  # toolchains the install chose (an interpreter's prefix)
    python: str = ""  # which Python, and why, when the repository asked for one
    results: tuple[SandboxResult, ...] = ()
    lease: CacheEntry | None = None

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def apply(self, policy: SandboxPolicy) -> SandboxPolicy:
        """`policy` for test commands: the installed tree read-only, its tools on PATH."""
        env = dict(self.plan.test_env)
        binds = list(policy.binds)
        if self.deps is not None:
            binds.append(Bind(self.deps, DEPS))
            binds += [
                Bind(self.deps / name, f"{WORKSPACE}/{name}")
                for name in KEPT_IN_TREE
                if _is_dir(self.deps / name)
            ]
            path = sandbox_env(policy)["PATH"].split(":")
            if _is_dir(self.deps / "venv"):
                path.insert(0, f"{VENV}/bin")
                env["VIRTUAL_ENV"] = VENV
            if _is_dir(self.deps / "node_modules"):
                path.insert(0, f"{WORKSPACE}/node_modules/.bin")
            if _is_dir(self.deps / "go"):
                env.update(go_env(offline=True))
            env["PATH"] = ":".join(path)
        return replace(
            policy,
            binds=tuple(binds),
            env={**policy.env, **env},
            ro_paths=(*policy.ro_paths, *self.ro_paths),
        )

    def detail(self) -> dict[str, object]:
        """The check run's line: what, from where, how long, cache hit or not."""
        return {
            "installed": self.plan.describe(),
            "source": self.plan.source,
            "cache": "hit" if self.cache_hit else ("stored" if self.cached else "not cached"),
            "not_cached": "" if self.cached else self.plan.not_cached,
            "from": self.egress.hosts(),
            "refused": [f"{c.host}:{c.port} ({c.reason})" for c in self.egress.refused],
            "downloaded_bytes": self.egress.bytes_in(),
            "seconds": round(self.seconds, 1),
            **({"python": self.python} if self.python else {}),
        }


def go_env(offline: bool) -> dict[str, str]:
    env = {
        "GOMODCACHE": GOMODCACHE,
        "GOCACHE": "/tmp/go-build",  # noqa: S108 - inside the sandbox
        "GOPATH": "/tmp/go",  # noqa: S108 - inside the sandbox
        "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off",
        "GOFLAGS": "-mod=readonly" if offline else "-modcacherw",
    }
    if offline:
        env["GOPROXY"] = "off"
    return env


def _install_env(settings: PrepareSettings) -> dict[str, str]:
    ca = {}
    if settings.ca_bundle is not None:
        path = str(settings.ca_bundle)
        ca = {
            name: path
            for name in (
                "SSL_CERT_FILE",
                "PIP_CERT",
                "REQUESTS_CA_BUNDLE",
                "CURL_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
                "npm_config_cafile",
                "GIT_SSL_CAINFO",
            )
        }
    return {
        **ca,
        **go_env(offline=False),
        "PIP_CACHE_DIR": "/tmp/pip-cache",  # noqa: S108 - inside the sandbox, thrown away
        "npm_config_cache": "/tmp/npm-cache",  # noqa: S108
        "npm_config_update_notifier": "false",
        "COMPOSER_HOME": "/tmp/composer",  # noqa: S108
        "COREPACK_HOME": "/tmp/corepack",  # noqa: S108
        "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
        # the version `packageManager` pins, never "latest" looked up at install time
        "COREPACK_DEFAULT_TO_LATEST": "0",
        **settings.mirrors,
    }


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


async def prepare(
    checkout: Path,
    plan: PreparePlan,
    settings: PrepareSettings,
    base: SandboxPolicy,
    *,
    tenant: str,
    area: Path,
    toolchain: str,
    label: str = "",
    allow_unsandboxed: bool = False,
    ro_paths: tuple[Path, ...] = (),
    python: str = "",
) -> Prepared:
    """Install `plan` for `checkout` (only read), or take it from the tenant's cache.

    `area` is the run's own directory for the install (a tmpfs of the prepare phase's
    disk limit when root); it must outlive the tests when the result is not cached.
    """
    started = time.monotonic()
    done = Prepared(plan, ro_paths=ro_paths, python=python)
    base = replace(base, ro_paths=(*base.ro_paths, *ro_paths))
    if plan.empty:
        return done
    cache = DependencyCache(settings.cache_root, tenant, settings.cache_cap_bytes)
    key = plan.cache_key(checkout, toolchain) if not plan.not_cached else None
    if key is not None and (entry := await asyncio.to_thread(cache.lookup, key)) is not None:
        done.deps, done.lease, done.cache_hit, done.cached = entry.deps, entry, True, True
        done.seconds = time.monotonic() - started
        return done
    await asyncio.to_thread(ensure_sized_scratch, area, settings.limits.disk_bytes)
    deps = area / "deps"
    egress_dir = area / "egress"
    for directory in (deps, egress_dir):
        await asyncio.to_thread(_fresh_dir, directory)
    proxy = EgressProxy(settings.rules, label)
    await proxy.start(egress_dir)
    policy = replace(
        base,
        limits=settings.limits,
        egress=egress_dir,
        binds=(Bind(deps, DEPS, writable=True), *_ca_binds(settings)),
        env={**base.env, **_install_env(settings)},
        scratch_root=area,
    )
    try:
        await asyncio.to_thread(_write_generated, deps, plan, settings.files)
        async with work_copy(checkout, area) as copy:
            done.results, done.failure = await _run_plan(copy, plan, policy, allow_unsandboxed)
            if done.failure is None:
                await asyncio.to_thread(_keep_installed, copy, deps)
    except TreeTooLarge as exc:
        done.failure = f"the dependencies could not be installed: {exc}"
    finally:
        await proxy.close()
        done.egress = proxy.log
    done.seconds = time.monotonic() - started
    if done.failure is not None:
        return done
    done.deps = deps
    if key is not None:
        try:
            entry = await asyncio.to_thread(cache.publish, key, deps)
        except CacheTooSmall as exc:
            log.warning("prepare %s: not cached: %s", label, exc)
        else:
            done.deps, done.lease, done.cached = entry.deps, entry, True
            await asyncio.to_thread(remove_tree, deps)
    done.seconds = time.monotonic() - started
    return done


async def _run_plan(
    copy: Path, plan: PreparePlan, policy: SandboxPolicy, allow_unsandboxed: bool
) -> tuple[tuple[SandboxResult, ...], str | None]:
    results: list[SandboxResult] = []
    for step in plan.steps:
        for line in step.commands:
            result = await run_sandboxed(
                ("sh", "-c", line), copy, policy, allow_unsandboxed=allow_unsandboxed
            )
            results.append(result)
            if not result.passed:
                tail = result.output.text[-TAIL_CHARS:].strip()
                name = line if step.tool == "setup" else _short(line)
                return tuple(results), f"`{name}` failed ({result.summary()}):\n{tail}"
    return tuple(results), None


def _short(line: str) -> str:
    """`composer install` of `composer install --no-interaction …` (for people)."""
    words = [w for w in line.split() if not w.startswith("-")]
    words = [w.rsplit("/", 1)[-1] for w in words[:3]]
    return " ".join(words[:2]) if words[:1] != ["python"] else " ".join(words[:4])


def _fresh_dir(path: Path) -> None:
    if path.exists():
        remove_tree(path)
    path.mkdir(mode=0o755)


def _ca_binds(settings: PrepareSettings) -> tuple[Bind, ...]:
    bundle = settings.ca_bundle
    if bundle is None or str(bundle).startswith("/etc/ssl/certs/") or not bundle.is_file():
        return ()  # the sandbox's /etc/ssl/certs is the host's already
    return (Bind(bundle, str(bundle)),)


def _write_generated(deps: Path, plan: PreparePlan, extra: dict[str, str]) -> None:
    """Files the plan generated (a requirements list read from pyproject.toml, ...) and
    the package managers' configuration (a mirror)."""
    generated = {name: text for step in plan.steps for name, text in step.files.items()}
    generated.update(extra)
    if not generated:
        return
    folder = deps / ".agentops"
    folder.mkdir(mode=0o755, exist_ok=True)
    for name, text in generated.items():
        (folder / name).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _keep_installed(copy: Path, deps: Path) -> None:
    """Move `node_modules/` and `vendor/` the install made in the copy into `deps`. Only
    real directories: a link there (made by the install) is dropped with the copy."""
    for name in KEPT_IN_TREE:
        if _is_dir(copy / name) and not (deps / name).exists():
            os.rename(copy / name, deps / name)
    with contextlib.suppress(OSError):
        os.chmod(deps, 0o755)  # noqa: S103 - read by the sandbox's uid, read-only
