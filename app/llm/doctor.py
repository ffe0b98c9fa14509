"""`agentops doctor`: is every configured provider, the database, Redis and each forge usable?

Each check gives one line. Provider checks list models (no tokens are spent). Only what
is configured is checked: what is not (no forge yet) is an informational line, not a
failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.config import Settings
from app.llm.errors import ProviderError
from app.llm.factory import shared_cooldowns
from app.llm.model_ids import ModelId, ModelIdError
from app.llm.prices import load_price_table
from app.llm.provider_specs import (
    config_hint,
    missing_model_hint,
    not_running,
    provider_spec,
    shown_url,
)
from app.llm.providers.registry import ProviderRegistry
from app.llm.routing import resolve_routes
from app.redaction import redact

CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: informational, or not checked
    message: str


def provider_url(settings: Settings, model_id: ModelId) -> str:
    if model_id.base_url:
        return model_id.base_url
    spec = provider_spec(model_id.provider)
    if spec is not None:
        return redact(shown_url(settings, spec))
    return redact(settings.llm_endpoints.get(model_id.provider, {}).get("base_url", "?"))


def explain_provider_error(settings: Settings, model_id: ModelId, exc: ProviderError) -> str:
    url = provider_url(settings, model_id)
    spec = provider_spec(model_id.provider)
    if exc.kind == "connection" and spec is not None and spec.start_command:
        return not_running(spec, url)
    if exc.kind in ("connection", "timeout"):
        return f"not reachable at {url} ({exc.kind}: {exc.message})"
    if exc.kind == "auth":
        return f"{exc.message if exc.status is None else f'key refused ({exc.status})'}; " + (
            config_hint(model_id.provider) if exc.status is not None else f"at {url}"
        )
    return f"{url} answered {exc}"


async def check_providers(settings: Settings) -> list[Check]:
    try:
        routes = resolve_routes(settings)
    except ModelIdError as exc:
        return [Check("models", False, str(exc))]
    checks = [
        Check(
            "models",
            True,
            "; ".join(
                f"{role}: {' → '.join(str(m) for m in chain)}"
                for role, chain in routes.chains.items()
            ),
        )
    ]
    try:
        load_price_table(settings.llm_prices_path)
        checks.append(Check("prices", True, str(settings.llm_prices_path or "built-in table")))
    except ValueError as exc:
        checks.append(Check("prices", False, str(exc)))

    by_provider: dict[str, list[ModelId]] = {}
    for chain in routes.chains.values():
        for model_id in chain:
            models = by_provider.setdefault(model_id.provider_key, [])
            if model_id not in models:
                models.append(model_id)
    quick = settings.model_copy(update={"llm_timeout_seconds": CHECK_TIMEOUT})
    registry = ProviderRegistry(quick)
    try:
        for models in by_provider.values():
            checks.append(await _check_provider(settings, registry, models))
    finally:
        await registry.close()
    return checks


async def _check_provider(
    settings: Settings, registry: ProviderRegistry, models: list[ModelId]
) -> Check:
    """One line for one provider: reachable, and every model it is asked for is there."""
    first = models[0]
    spec = provider_spec(first.provider)
    name = f"provider {first.provider}"
    url = provider_url(settings, first)
    problems: list[str] = []
    try:
        for model_id in models:
            status = await registry.for_model(model_id).check(model_id.model)
            if status.startswith("reachable, but"):
                hint = missing_model_hint(spec, model_id.model) if spec else ""
                problems.append(status.removeprefix("reachable, but ") + hint)
    except ProviderError as exc:
        return Check(name, False, explain_provider_error(settings, first, exc))
    if problems:
        return Check(name, False, f"{url}: reachable, but {'; '.join(problems)}")
    listed = ", ".join(m.model for m in models)
    return Check(name, True, f"{url}: reachable ({listed})")


async def check_database(settings: Settings) -> Check:
    from app.store import DATABASE_ERRORS
    from app.store.migrations import DatabaseMissing, pending_migrations

    url = redact(settings.database_url)
    try:
        pending = await pending_migrations(settings.database_url, CHECK_TIMEOUT)
    except DatabaseMissing as exc:
        return Check(
            "database",
            False,
            f'{url}: PostgreSQL is reachable, but the database "{redact(exc.name)}" does not '
            "exist: run `agentops migrate` to create it and apply the migrations",
        )
    except DATABASE_ERRORS as exc:
        return Check("database", False, f"cannot reach PostgreSQL at {url}: {redact(str(exc))}")
    if pending:
        return Check("database", False, f"{url}: migrations not applied (run `agentops migrate`)")
    tenant_login = await check_tenant_login(settings)
    if tenant_login is not None:
        return Check("database", False, f"{url}: reachable, migrated, but {tenant_login}")
    return Check(
        "database", True, f"{url}: reachable, migrated; tenant work logs in as agentops_tenant"
    )


async def check_tenant_login(settings: Settings) -> str | None:
    """Why tenant work cannot log in as its own role, or None when it can."""
    from app.store import DATABASE_ERRORS, DatabaseUnavailable, connect
    from app.store.db import TenantRoleUnsafe

    try:
        db = await connect(settings.database_url, 1, 1, tenant_dsn=settings.tenant_database_url)
    except (DatabaseUnavailable, TenantRoleUnsafe) as exc:
        return f"{redact(str(exc))} (AGENTOPS_TENANT_DATABASE_URL)"
    except DATABASE_ERRORS as exc:
        return f"{redact(str(exc))} (AGENTOPS_TENANT_DATABASE_URL)"
    await db.close()
    return None


async def check_redis(settings: Settings) -> Check:
    from app.queue import REDIS_ERRORS, redis_client

    url = redact(settings.redis_url)
    client = redis_client(settings.redis_url, CHECK_TIMEOUT)
    try:
        await client.ping()
    except REDIS_ERRORS as exc:
        return Check("redis", False, f"cannot reach Redis at {url}: {redact(str(exc))}")
    finally:
        await client.aclose()
    return Check("redis", True, f"{url}: reachable")


async def check_cooldowns(settings: Settings) -> list[Check]:
    """The models every worker skips now because they kept failing (app/llm/cooldowns.py);
    nothing when Redis cannot be reached (its own line says so)."""
    cooldowns = shared_cooldowns(settings)
    try:
        cooling = await cooldowns.active()
    finally:
        await cooldowns.close()
    if cooling is None:
        return []
    if not cooling:
        return [Check("cooldowns", True, "no model in cooldown")]
    return [
        Check(
            f"cooldown {model}",
            None,
            f"kept failing: every worker skips it for {seconds:.0f} s more, then tries it again",
        )
        for model, seconds in cooling.items()
    ]


async def check_forges_if_available(settings: Settings) -> list[Check]:
    try:
        from app.forges.doctor import check_forges  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return [Check("forges", None, "forge checks are unavailable in this build")]
    results = await check_forges(settings)
    return [Check(f"forge {name}", ok, str(message)) for name, ok, message in results]


async def check_sandbox(settings: Settings) -> Check:
    """Which isolation the tests of repositories get here (app/sandbox/report.py)."""
    from app.workflow.sandbox_policy import isolation_in_force

    ok, text = await asyncio.to_thread(isolation_in_force, settings)
    return Check("sandbox", ok, text)


async def check_toolchains(settings: Settings) -> list[Check]:
    """The Pythons a repository may ask for, and the other toolchains, with versions
    (app/toolchains.py); a missing one is a warning: only repositories that need it fail."""
    from app.toolchains import toolchain_report

    report = await asyncio.to_thread(toolchain_report, settings.sandbox_pythons)
    return [
        Check(name, True, version)
        if version
        else Check(name, None, "not found: repositories whose tests need it cannot run here")
        for name, version in report
    ]


async def check_mcp_servers(settings: Settings) -> list[Check]:
    """Each of the operator's MCP servers started (or reached) once (app/agent_mcp)."""
    if not settings.mcp_servers:
        return []
    from app.agent_mcp.doctor import check_mcp_servers as check

    results = await check(settings.mcp_servers)
    return [Check(f"mcp {name}", ok, line) for name, ok, line in results]


async def service_checks(settings: Settings) -> list[Check]:
    """What every process of the service needs: the models, the database, Redis."""
    providers, database, redis_check = await asyncio.gather(
        check_providers(settings), check_database(settings), check_redis(settings)
    )
    return [*providers, database, redis_check]


async def run_checks(settings: Settings) -> list[Check]:
    service, cooling, sandbox, toolchains, mcp = await asyncio.gather(
        service_checks(settings),
        check_cooldowns(settings),
        check_sandbox(settings),
        check_toolchains(settings),
        check_mcp_servers(settings),
    )
    *providers, database, redis_check = service
    return [
        *providers,
        *cooling,
        database,
        redis_check,
        *await check_forges_if_available(settings),
        sandbox,
        *toolchains,
        *mcp,
    ]
