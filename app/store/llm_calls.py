"""SQL for `llm_calls`: the usage ledger and the recorded requests and responses of runs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.store.db import ReaderConnection, TenantConnection


@dataclass(frozen=True)
class LLMCallRow:
    run_id: int
    call_id: uuid.UUID
    attempt: int
    role: str
    provider: str
    model: str
    outcome: str
    detail: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    cost_usd: float
    latency_ms: int
    fingerprint: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    id: int | None = None
    tenant_id: int | None = None


async def insert_llm_call(tc: TenantConnection, row: LLMCallRow) -> int:
    new_id: int = await tc.conn.fetchval(
        """
        INSERT INTO llm_calls (
            tenant_id, run_id, call_id, attempt, role, provider, model, outcome, detail,
            input_tokens, output_tokens, cached_tokens, cache_write_tokens, cost_usd,
            latency_ms, fingerprint, request, response)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17::jsonb, $18::jsonb)
        RETURNING id
        """,
        tc.tenant_id,
        row.run_id,
        row.call_id,
        row.attempt,
        row.role,
        row.provider,
        row.model,
        row.outcome,
        row.detail,
        row.input_tokens,
        row.output_tokens,
        row.cached_tokens,
        row.cache_write_tokens,
        row.cost_usd,
        row.latency_ms,
        row.fingerprint,
        json.dumps(row.request),
        None if row.response is None else json.dumps(row.response),
    )
    return new_id


async def spent_usd(tc: TenantConnection, run_id: int, since: datetime) -> tuple[float, float]:
    """(cost of this run, cost of this tenant since `since`), in USD."""
    record = await tc.conn.fetchrow(
        """
        SELECT coalesce(sum(cost_usd) FILTER (WHERE run_id = $1), 0) AS run,
               coalesce(sum(cost_usd) FILTER (WHERE created_at >= $2), 0) AS month
        FROM llm_calls
        WHERE tenant_id = $3 AND (run_id = $1 OR created_at >= $2)
        """,
        run_id,
        since,
        tc.tenant_id,
    )
    assert record is not None
    return float(record["run"]), float(record["month"])


def _row(record: asyncpg.Record) -> LLMCallRow:
    response = record["response"]
    return LLMCallRow(
        id=record["id"],
        tenant_id=record["tenant_id"],
        run_id=record["run_id"],
        call_id=record["call_id"],
        attempt=record["attempt"],
        role=record["role"],
        provider=record["provider"],
        model=record["model"],
        outcome=record["outcome"],
        detail=record["detail"],
        input_tokens=record["input_tokens"],
        output_tokens=record["output_tokens"],
        cached_tokens=record["cached_tokens"],
        cache_write_tokens=record["cache_write_tokens"],
        cost_usd=float(record["cost_usd"]),
        latency_ms=record["latency_ms"],
        fingerprint=record["fingerprint"],
        request=json.loads(record["request"]),
        response=None if response is None else json.loads(response),
    )


async def llm_calls_of_run(tc: TenantConnection, run_id: int) -> list[LLMCallRow]:
    """Every attempt of the run, in the order they were made."""
    records = await tc.conn.fetch("SELECT * FROM llm_calls WHERE run_id = $1 ORDER BY id", run_id)
    return [_row(r) for r in records]


async def tenant_of_run(conn: asyncpg.Connection, run_id: int) -> int | None:
    """Admin lookup: which tenant a run belongs to (for `agentops replay RUN_ID`)."""
    tenant_id: int | None = await conn.fetchval("SELECT tenant_id FROM runs WHERE id = $1", run_id)
    return tenant_id


async def run_status(tc: TenantConnection, run_id: int) -> str | None:
    status: str | None = await tc.conn.fetchval("SELECT status FROM runs WHERE id = $1", run_id)
    return status


@dataclass(frozen=True)
class LLMUsageTotal:
    model: str
    calls: int  # answered calls
    attempts: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float


async def llm_usage_of_run(
    tc: TenantConnection | ReaderConnection, run_id: int
) -> list[LLMUsageTotal]:
    """Per model: answered calls, attempts, tokens and cost of one run (for the API, checks)."""
    records = await tc.conn.fetch(
        """
        SELECT model,
               count(*) FILTER (WHERE outcome = 'ok') AS calls,
               count(*) AS attempts,
               coalesce(sum(input_tokens), 0) AS input_tokens,
               coalesce(sum(output_tokens), 0) AS output_tokens,
               coalesce(sum(cached_tokens), 0) AS cached_tokens,
               coalesce(sum(cost_usd), 0) AS cost_usd
        FROM llm_calls WHERE run_id = $1
        GROUP BY model ORDER BY min(id)
        """,
        run_id,
    )
    return [
        LLMUsageTotal(
            r["model"],
            r["calls"],
            r["attempts"],
            int(r["input_tokens"]),
            int(r["output_tokens"]),
            int(r["cached_tokens"]),
            float(r["cost_usd"]),
        )
        for r in records
    ]
