"""Building the router a run (or a command) uses, from settings and the repository's config."""

from __future__ import annotations

import httpx2

from app.config import Settings
from app.llm.budgets import budget_limits
from app.llm.call_log import CallLog
from app.llm.cooldowns import CooldownPolicy, Cooldowns, MemoryCooldowns, RedisCooldowns
from app.llm.prices import load_price_table
from app.llm.providers.registry import ProviderRegistry, llm_secrets
from app.llm.router import LLMRouter, RetryPolicy
from app.llm.routing import RepoLLMConfig, resolve_routes
from app.metrics import llm as llm_metrics


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_retries=settings.llm_max_retries,
        base_delay=settings.llm_retry_base_seconds,
        max_delay=settings.llm_retry_max_seconds,
    )


def cooldown_policy(settings: Settings) -> CooldownPolicy:
    return CooldownPolicy(
        failures=settings.llm_cooldown_failures,
        window=settings.llm_cooldown_window_seconds,
        cooldown=settings.llm_cooldown_seconds,
    )


def shared_cooldowns(settings: Settings) -> RedisCooldowns:
    """The cooldowns every worker of this deployment sees (close when done)."""
    return RedisCooldowns(settings.redis_url, settings.queue_name, cooldown_policy(settings))


def build_router(
    settings: Settings,
    call_log: CallLog,
    repo: RepoLLMConfig | None = None,
    http_client: httpx2.AsyncClient | None = None,
    cooldowns: Cooldowns | None = None,
) -> tuple[LLMRouter, ProviderRegistry]:
    """The router and its provider registry (close the registry when done). Without
    `cooldowns`, this process keeps its own."""
    llm_metrics.know_models(settings)  # the models that may be label values of the LLM metrics
    registry = ProviderRegistry(settings, http_client)
    router = LLMRouter(
        resolve_routes(settings, repo),
        registry.for_model,
        load_price_table(settings.llm_prices_path),
        call_log,
        policy=retry_policy(settings),
        limits=budget_limits(settings, repo),
        secrets=llm_secrets(settings),
        cooldowns=cooldowns or MemoryCooldowns(cooldown_policy(settings)),
        stop_on_auth=settings.llm_stop_on_auth_error,
    )
    return router, registry
