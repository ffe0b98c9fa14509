"""Replay: answering a run's requests from its recorded answers, with no network.

Each successful attempt of a run is stored with the fingerprint of its (redacted)
request. `ReplayProvider` answers a request with the first unused recorded response
whose fingerprint matches, in recording order, whatever model is asked; a request
that was never recorded raises `ReplayMiss`. `replay_router` builds a router that uses
nothing else: no retries, no budgets, no usage written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.llm.budgets import BudgetLimits
from app.llm.call_log import MemoryCallLog
from app.llm.errors import ReplayMiss
from app.llm.model_ids import ModelId
from app.llm.prices import PriceTable
from app.llm.router import LLMRouter, RetryPolicy
from app.llm.routing import Routes
from app.llm.types import (
    ROLES,
    LLMRequest,
    LLMResponse,
    request_fingerprint,
    request_from_json,
    response_from_json,
)
from app.store import Database
from app.store.llm_calls import LLMCallRow, llm_calls_of_run, run_status, tenant_of_run

REPLAY_MODEL = ModelId("replay", "recorded")


@dataclass(frozen=True)
class RecordedCall:
    fingerprint: str
    model_id: str  # the model that gave the answer when it was recorded
    request: LLMRequest
    response: LLMResponse


def recorded_calls(rows: list[LLMCallRow]) -> list[RecordedCall]:
    """The answered calls of a run, in order (failed attempts are not answers)."""
    return [
        RecordedCall(
            row.fingerprint,
            row.model,
            request_from_json(row.request),
            response_from_json(row.response),
        )
        for row in rows
        if row.outcome == "ok" and row.response is not None
    ]


@dataclass
class ReplayProvider:
    """Answers from a run's records with no network.

    Strict (the default): only a request identical to a recorded one is answered. Loose
    (`strict=False`, for re-running a whole workflow, whose tool results carry timings):
    a request gets the next unused answer recorded for its role, and `divergent` counts
    the answers given to requests that differ from what was asked then.
    """

    calls: list[RecordedCall]
    name: str = "replay"
    used: set[int] = field(default_factory=set)
    strict: bool = True
    divergent: int = 0

    async def complete(self, request: LLMRequest, model: str) -> LLMResponse:
        fingerprint = request_fingerprint(request)
        for index, call in enumerate(self.calls):
            if index not in self.used and call.fingerprint == fingerprint:
                self.used.add(index)
                return call.response
        if not self.strict:
            for index, call in enumerate(self.calls):
                if index not in self.used and call.request.role == request.role:
                    self.used.add(index)
                    self.divergent += 1
                    return call.response
        raise ReplayMiss(
            f"no recorded answer for this {request.role} request "
            f"(fingerprint {fingerprint[:12]}): the run asked something it did not ask then"
        )

    async def check(self, model: str) -> str:
        return f"{len(self.calls)} recorded answers"

    async def close(self) -> None:
        return None

    @property
    def unused(self) -> int:
        return len(self.calls) - len(self.used)


def replay_router(
    calls: list[RecordedCall], strict: bool = True
) -> tuple[LLMRouter, ReplayProvider]:
    provider = ReplayProvider(calls, strict=strict)
    routes = Routes({role: (REPLAY_MODEL,) for role in ROLES})
    router = LLMRouter(
        routes,
        lambda _model_id: provider,
        PriceTable({}),
        MemoryCallLog(),
        policy=RetryPolicy(max_retries=0),
        limits=BudgetLimits(),
    )
    return router, provider


@dataclass(frozen=True)
class RecordedRun:
    run_id: int
    tenant_id: int
    status: str
    calls: list[RecordedCall]


class RunNotFound(LookupError):
    pass


async def load_recorded_run(db: Database, run_id: int) -> RecordedRun:
    """The answered calls of `run_id`, read in its tenant's scope."""
    async with db.admin() as conn:
        tenant_id = await tenant_of_run(conn, run_id)
    if tenant_id is None:
        raise RunNotFound(f"run {run_id} does not exist")
    async with db.tenant(tenant_id) as tc:
        status = await run_status(tc, run_id) or "unknown"
        rows = await llm_calls_of_run(tc, run_id)
    return RecordedRun(run_id, tenant_id, status, recorded_calls(rows))
