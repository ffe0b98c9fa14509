"""The LLM simulator on loopback, a tenant and a run to record calls against, settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from app.config import Settings
from app.llm import PostgresCallLog, build_router
from app.llm.providers.registry import ProviderRegistry
from app.llm.router import LLMRouter
from app.store import Database
from tests.sim.llm_sim import LLMSimulator
from tests.sim.serve import serve_app

ANTHROPIC_KEY = "sk-ant-api03-" + "s" * 40
OPENAI_KEY = "sk-proj-" + "t" * 40


@pytest.fixture(autouse=True)
def _no_llm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AGENTOPS_") and name not in (
            "AGENTOPS_DATABASE_URL",
            "AGENTOPS_REDIS_URL",
        ):
            monkeypatch.delenv(name)


@pytest.fixture
def sim() -> LLMSimulator:
    return LLMSimulator(models=("claude-a", "claude-b", "gpt-a", "gpt-big"))


@pytest.fixture
def sim_url(sim: LLMSimulator) -> Iterator[str]:
    with serve_app(sim.app) as base_url:
        yield base_url


def sim_settings(sim_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "anthropic_api_key": SecretStr(ANTHROPIC_KEY),
        "anthropic_base_url": sim_url,
        "openai_api_key": SecretStr(OPENAI_KEY),
        "openai_base_url": f"{sim_url}/v1",
        "llm_models": {
            "planner": ["anthropic:claude-a", "openai:gpt-a"],
            "coder": ["anthropic:claude-a", "openai:gpt-a"],
            "reviewer": ["anthropic:claude-a"],
            "cheap": ["openai:gpt-a"],
        },
        "llm_timeout_seconds": 2.0,
        "llm_max_retries": 2,
        "llm_retry_base_seconds": 0.01,
        "llm_retry_max_seconds": 0.5,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclass(frozen=True)
class TenantRun:
    tenant_id: int
    run_id: int


async def make_tenant_run(db: Database) -> TenantRun:
    key = uuid.uuid4().hex[:12]
    async with db.admin() as conn:
        tenant_id = await conn.fetchval(
            "INSERT INTO tenants (forge, external_key, account) VALUES ('github', $1, 'acme')"
            " RETURNING id",
            key,
        )
        run_id = await conn.fetchval(
            "INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command,"
            " requested_by, trigger, trigger_key, status)"
            " VALUES ($1, 'github', 'acme/app', 'issue', 7, 'implement', 'alice', 'comment',"
            " $2, 'running') RETURNING id",
            tenant_id,
            f"t-{key}",
        )
    return TenantRun(tenant_id, run_id)


@pytest.fixture
async def tenant_run(db: Database) -> TenantRun:
    return await make_tenant_run(db)


@pytest.fixture
async def routed(
    db: Database, tenant_run: TenantRun, sim_url: str
) -> AsyncIterator[tuple[LLMRouter, ProviderRegistry]]:
    router, registry = build_router(
        sim_settings(sim_url), PostgresCallLog(db, tenant_run.tenant_id, tenant_run.run_id)
    )
    yield router, registry
    await registry.close()
