"""Where the router writes each attempt (usage, cost, request, response) and reads spending.

`PostgresCallLog` is the one used by runs: one row per attempt in `llm_calls`, scoped
to the run's tenant. `MemoryCallLog` serves `agentops llm ask` and tests of pure logic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

from app.llm.budgets import Spent, month_start
from app.llm.types import LLMRequest, LLMResponse, Usage, request_to_json, response_to_json
from app.store import Database
from app.store.llm_calls import LLMCallRow, insert_llm_call, spent_usd


@dataclass(frozen=True)
class CallRecord:
    call_id: uuid.UUID
    attempt: int
    role: str
    provider: str
    model_id: str
    outcome: str
    detail: str
    usage: Usage
    cost_usd: float
    latency_ms: int
    fingerprint: str
    request: LLMRequest  # as sent: already redacted
    response: LLMResponse | None


class CallLog(Protocol):
    async def record(self, record: CallRecord) -> None: ...

    async def spent(self) -> Spent: ...


@dataclass
class MemoryCallLog:
    records: list[CallRecord] = field(default_factory=list)
    earlier: Spent = field(default_factory=Spent)  # spending before this log began

    async def record(self, record: CallRecord) -> None:
        self.records.append(record)

    async def spent(self) -> Spent:
        total = sum(r.cost_usd for r in self.records)
        return Spent(self.earlier.run_usd + total, self.earlier.tenant_month_usd + total)


class PostgresCallLog:
    def __init__(self, db: Database, tenant_id: int, run_id: int) -> None:
        self._db = db
        self.tenant_id = tenant_id
        self.run_id = run_id

    async def record(self, record: CallRecord) -> None:
        row = LLMCallRow(
            run_id=self.run_id,
            call_id=record.call_id,
            attempt=record.attempt,
            role=record.role,
            provider=record.provider,
            model=record.model_id,
            outcome=record.outcome,
            detail=record.detail,
            input_tokens=record.usage.input_tokens,
            output_tokens=record.usage.output_tokens,
            cached_tokens=record.usage.cached_tokens,
            cache_write_tokens=record.usage.cache_write_tokens,
            cost_usd=record.cost_usd,
            latency_ms=record.latency_ms,
            fingerprint=record.fingerprint,
            request=request_to_json(record.request),
            response=None if record.response is None else response_to_json(record.response),
        )
        async with self._db.tenant(self.tenant_id) as tc:
            await insert_llm_call(tc, row)

    async def spent(self) -> Spent:
        async with self._db.tenant(self.tenant_id) as tc:
            run, month = await spent_usd(tc, self.run_id, month_start())
        return Spent(run, month)
