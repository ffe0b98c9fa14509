"""Where the router holds budget for each attempt and writes it (usage, cost, request,
response).

Before an attempt the router calls `reserve`: it checks the budgets against what is spent
plus what calls in flight hold, and holds the attempt's estimate. `record` writes the
attempt and drops its hold in one go; `release` drops a hold whose attempt was never
recorded. `PostgresCallLog` is the one used by runs: one row per attempt in `llm_calls`,
scoped to the run's tenant, and holds serialised per tenant across workers.
`MemoryCallLog` serves `agentops llm ask`, local mode and tests of pure logic.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.llm.budgets import BudgetLimits, Spent, check_budgets, month_start
from app.llm.types import LLMRequest, LLMResponse, Usage, request_to_json, response_to_json
from app.store import Database
from app.store.llm_calls import LLMCallRow, insert_llm_call, spent_usd
from app.store.llm_reservations import (
    delete_reservation,
    insert_reservation,
    lock_tenant_budget,
    spent_and_held_usd,
)

# No attempt outlives its job: ARQ cancels a job at AGENTOPS_JOB_TIMEOUT_SECONDS.
DEFAULT_HOLD_SECONDS = 1800.0


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


@dataclass(frozen=True)
class Reservation:
    """The estimated cost of one attempt, held against the budgets until it is recorded."""

    id: uuid.UUID
    estimate_usd: float


class CallLog(Protocol):
    async def reserve(self, limits: BudgetLimits, estimate_usd: float) -> Reservation:
        """Hold `estimate_usd`, or raise `BudgetExhausted` when spending plus what calls
        in flight hold plus it would overrun a budget."""
        ...

    async def record(self, record: CallRecord, settles: Reservation | None = None) -> None:
        """Write one attempt and drop the hold it `settles`."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Drop a hold whose attempt will not be recorded."""
        ...


@dataclass
class MemoryCallLog:
    records: list[CallRecord] = field(default_factory=list)
    earlier: Spent = field(default_factory=Spent)  # spending before this log began
    held: dict[uuid.UUID, float] = field(default_factory=dict)

    async def reserve(self, limits: BudgetLimits, estimate_usd: float) -> Reservation:
        spent = await self.spent()
        in_flight = sum(self.held.values())
        check_budgets(
            limits,
            Spent(spent.run_usd + in_flight, spent.tenant_month_usd + in_flight),
            estimate_usd,
        )
        reservation = Reservation(uuid.uuid4(), estimate_usd)
        self.held[reservation.id] = estimate_usd
        return reservation

    async def record(self, record: CallRecord, settles: Reservation | None = None) -> None:
        self.records.append(record)
        if settles is not None:
            await self.release(settles)

    async def release(self, reservation: Reservation) -> None:
        self.held.pop(reservation.id, None)

    async def spent(self) -> Spent:
        total = sum(r.cost_usd for r in self.records)
        return Spent(self.earlier.run_usd + total, self.earlier.tenant_month_usd + total)


class PostgresCallLog:
    def __init__(
        self,
        db: Database,
        tenant_id: int,
        run_id: int,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        on_record: Callable[[CallRecord], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.hold_seconds = hold_seconds  # a hold left by a killed worker expires then
        # told of every attempt once it is written (the run's live log); never raises
        self.on_record = on_record

    async def reserve(self, limits: BudgetLimits, estimate_usd: float) -> Reservation:
        async with self._db.tenant(self.tenant_id) as tc:
            await lock_tenant_budget(tc)
            run, month = await spent_and_held_usd(tc, self.run_id, month_start())
            check_budgets(limits, Spent(run, month), estimate_usd)
            reservation_id = await insert_reservation(
                tc, self.run_id, estimate_usd, self.hold_seconds
            )
        return Reservation(reservation_id, estimate_usd)

    async def record(self, record: CallRecord, settles: Reservation | None = None) -> None:
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
            if settles is not None:
                await delete_reservation(tc, settles.id)
        if self.on_record is not None:
            await self.on_record(record)

    async def release(self, reservation: Reservation) -> None:
        async with self._db.tenant(self.tenant_id) as tc:
            await delete_reservation(tc, reservation.id)

    async def spent(self) -> Spent:
        """What is recorded as spent (the holds of calls in flight not included)."""
        async with self._db.tenant(self.tenant_id) as tc:
            run, month = await spent_usd(tc, self.run_id, month_start())
        return Spent(run, month)
