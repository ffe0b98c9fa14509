"""The router: one role's request, tried on its models in order, within the budgets.

For each model of the role's chain: hold the call's estimated cost against the budgets
(the call log refuses it when spending plus the holds of calls in flight would overrun
one), call the provider, and on a transient failure (429, 5xx, overload, timeout) wait and
retry, honouring `retry-after`, a bounded number of times, then go on to the next model.
A context-length failure skips to the next model with a larger window; when there is
none the caller gets `ContextTooLong` and must shrink its context. A refused or missing
key, or an account out of quota, is logged with what to fix and the next model is tried
(`stop_on_auth` stops at once with `ProviderConfigError`, which is also what a chain that
failed only on keys ends with). A model that keeps failing goes into a cooldown shared by
every worker (`cooldowns.py`) and is skipped until it ends. Every attempt is written to
the call log (usage, cost, latency, outcome, and the request and response for replay),
which drops its hold in the same write.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from pydantic import BaseModel

from app import tracing
from app.llm.budgets import BudgetLimits
from app.llm.call_log import CallLog, CallRecord, Reservation
from app.llm.cooldowns import Cooldowns, MemoryCooldowns
from app.llm.errors import (
    RETRYABLE,
    UNWELL,
    AllModelsFailed,
    ContextTooLong,
    ProviderConfigError,
    ProviderError,
    StructuredOutputError,
)
from app.llm.model_ids import ModelId
from app.llm.prices import PriceTable, billed_tokens, cost_usd, estimate_cost_usd
from app.llm.prompt_safety import RequestRedactor, ensure_data_policy
from app.llm.provider_specs import config_hint
from app.llm.providers.base import Provider
from app.llm.routing import Routes
from app.llm.structured import InvalidStructuredOutput, parse_structured, repair_prompt
from app.llm.types import (
    Attempt,
    Completion,
    LLMRequest,
    LLMResponse,
    Message,
    Usage,
    request_fingerprint,
)
from app.metrics import llm as llm_metrics

logger = logging.getLogger(__name__)  # `log` below is the attempt logger
T = TypeVar("T", bound=BaseModel)
_AttemptLogger = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3  # retries per model after the first try
    base_delay: float = 1.0  # seconds before the first retry; doubles each time
    max_delay: float = 30.0  # no single wait is longer; a longer retry-after skips the model
    connection_retries: int = 1  # refused connections rarely heal within seconds
    jitter: float = 0.1  # +0..10 % on computed delays, so workers do not retry in step


def backoff_delay(
    policy: RetryPolicy, retry_number: int, retry_after: float | None, rand: float = 0.0
) -> float | None:
    """Seconds to wait before retry `retry_number` (0 = first retry), or None when the
    provider asks for a longer wait than the policy allows (then: next model)."""
    if retry_after is not None:
        return retry_after if retry_after <= policy.max_delay else None
    delay = min(policy.max_delay, policy.base_delay * float(2**retry_number))
    return delay * (1 + policy.jitter * rand)


def auth_failure(model_id: ModelId, exc: ProviderError) -> str:
    if exc.status is None:  # refused before asking: no key configured
        return f"{model_id}: {exc.message}"
    return (
        f"{model_id}: the provider refused the credentials ({exc.status}): {exc.message}; "
        f"{config_hint(model_id.provider)}"
    )


def failure_detail(model_id: ModelId, exc: ProviderError) -> str:
    """What a person reads about one failed attempt: for a configuration or account
    problem, what to fix."""
    if exc.kind == "auth":
        return auth_failure(model_id, exc)
    if exc.kind == "quota":
        return (
            f"{model_id}: out of quota or credit ({exc.message}); the account's billing "
            "needs attention, retrying cannot help"
        )
    return exc.message


@dataclass(frozen=True)
class Structured(Generic[T]):
    value: T
    completion: Completion
    cost_usd: float  # including a repair call, when one was needed


class LLMRouter:
    def __init__(
        self,
        routes: Routes,
        provider_for: Callable[[ModelId], Provider],
        prices: PriceTable,
        call_log: CallLog,
        *,
        policy: RetryPolicy | None = None,
        limits: BudgetLimits | None = None,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        cooldowns: Cooldowns | None = None,
        stop_on_auth: bool = False,
    ) -> None:
        self.routes = routes
        self._provider_for = provider_for
        self._prices = prices
        self.call_log = call_log
        self._policy = policy or RetryPolicy()
        self._limits = limits or BudgetLimits()
        self._secrets = [s for s in secrets if s]
        self._redact = RequestRedactor(self._secrets)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._cooldowns: Cooldowns = cooldowns or MemoryCooldowns()
        self._stop_on_auth = stop_on_auth

    async def complete(self, request: LLMRequest) -> Completion:
        """The first good answer from the role's chain (see the module's docstring).

        Before anything is sent, known secret formats and configured secrets are
        redacted, and a request carrying fenced untrusted data gets `DATA_POLICY` in its
        system prompt."""
        request = ensure_data_policy(self._redact(request))
        log = self._attempt_logger(request, request_fingerprint(request))
        attempts: list[Attempt] = []
        too_long_window: int | None = None

        config_failures: list[str] = []

        for model_id in self.routes.chain(request.role):
            price = self._prices.price_for(model_id)
            if too_long_window is not None and price.prompt_limit <= too_long_window:
                attempts.append(
                    Attempt(str(model_id), "skipped", detail="context window not larger")
                )
                continue
            left = await self._cooldowns.remaining(str(model_id))
            if left is not None:
                attempts.append(
                    Attempt(str(model_id), "cooldown", detail=f"in cooldown for {left:.0f} s more")
                )
                continue
            provider = self._provider_for(model_id)
            retries = 0
            while True:
                with llm_metrics.counting_budget_refusals():
                    hold = await self.call_log.reserve(
                        self._limits, estimate_cost_usd(request, price)
                    )
                started = time.monotonic()
                try:
                    response = await provider.complete(request, model_id.model)
                except ProviderError as exc:
                    failure = exc
                except BaseException:  # cancelled (job abort, timeout) or an internal fault
                    await asyncio.shield(self._release(hold))
                    raise
                else:
                    latency = int((time.monotonic() - started) * 1000)
                    cost = cost_usd(response.usage, price)
                    attempts.append(Attempt(str(model_id), "ok", latency))
                    await log(
                        len(attempts), model_id, provider, "ok", latency, "", hold, response, cost
                    )
                    await self._cooldowns.answered(str(model_id))
                    billed = billed_tokens(response.usage, price)
                    return Completion(
                        response, str(model_id), provider.name, tuple(attempts), cost, billed
                    )
                latency = int((time.monotonic() - started) * 1000)
                detail = failure_detail(model_id, failure)
                attempts.append(Attempt(str(model_id), failure.kind, latency, detail))
                await log(len(attempts), model_id, provider, failure.kind, latency, detail, hold)
                if failure.kind in UNWELL and await self._start_cooldown(model_id, failure):
                    break
                if failure.kind == "auth":
                    if self._stop_on_auth:
                        raise ProviderConfigError(detail) from None
                    logger.warning("%s; trying the next model", detail)
                    config_failures.append(detail)
                    break
                if failure.kind == "quota":
                    logger.warning("%s; trying the next model", detail)
                    break
                if failure.kind == "context_length":
                    too_long_window = max(too_long_window or 0, price.prompt_limit)
                    break
                delay = self._retry_delay(failure, retries)
                if delay is None:
                    break
                retries += 1
                await self._sleep(delay)

        if too_long_window is not None:
            raise ContextTooLong(request.role, tuple(attempts))
        tried = [a for a in attempts if a.outcome not in ("skipped", "cooldown")]
        if config_failures and all(a.outcome == "auth" for a in tried):
            raise ProviderConfigError("; ".join(config_failures))
        raise AllModelsFailed(request.role, tuple(attempts))

    async def _start_cooldown(self, model_id: ModelId, failure: ProviderError) -> bool:
        """Count the failure; True when it put the model in cooldown (stop retrying it)."""
        seconds = await self._cooldowns.failed(str(model_id))
        if seconds is None:
            return False
        logger.warning(
            "%s keeps failing (%s): every worker skips it for %.0f s",
            model_id,
            failure.kind,
            seconds,
        )
        return True

    async def _release(self, hold: Reservation) -> None:
        try:
            await self.call_log.release(hold)
        except Exception as exc:  # the fault being raised matters more; the hold expires
            logger.warning("budget hold %s not released (%s); it expires on its own", hold.id, exc)

    def _retry_delay(self, exc: ProviderError, retries: int) -> float | None:
        if exc.kind not in RETRYABLE:
            return None
        allowed = self._policy.max_retries
        if exc.kind == "connection":
            allowed = min(allowed, self._policy.connection_retries)
        if retries >= allowed:
            return None
        return backoff_delay(self._policy, retries, exc.retry_after, self._rng.random())

    def _attempt_logger(self, request: LLMRequest, fingerprint: str) -> _AttemptLogger:
        call_id = uuid.uuid4()

        async def log(
            attempt: int,
            model_id: ModelId,
            provider: Provider,
            outcome: str,
            latency_ms: int,
            detail: str,
            hold: Reservation,
            response: LLMResponse | None = None,
            cost: float = 0.0,
        ) -> None:
            usage = response.usage if response is not None else Usage()
            record = CallRecord(
                call_id=call_id,
                attempt=attempt,
                role=request.role,
                provider=provider.name,
                model_id=str(model_id),
                outcome=outcome,
                detail=detail,
                usage=usage,
                cost_usd=cost,
                latency_ms=latency_ms,
                fingerprint=fingerprint,
                request=request,
                response=response,
            )
            _observe_attempt(record)
            # Shielded: a cancelled run still records (and pays for) an answered call.
            await asyncio.shield(self.call_log.record(record, settles=hold))

        return log

    async def complete_structured(self, request: LLMRequest, schema: type[T]) -> Structured[T]:
        """An answer validated into `schema`; one repair attempt, then
        `StructuredOutputError`. The request's tools are not offered: one JSON answer."""
        request = replace(request, json_schema=schema.model_json_schema(), tools=())
        first = await self.complete(request)
        try:
            return Structured(parse_structured(first.text, schema), first, first.cost_usd)
        except InvalidStructuredOutput as exc:
            problem = str(exc)
        repair = request.with_messages(
            Message.assistant(first.text or "(empty)"), Message.user(repair_prompt(problem))
        )
        second = await self.complete(repair)
        total = first.cost_usd + second.cost_usd
        try:
            return Structured(parse_structured(second.text, schema), second, total)
        except InvalidStructuredOutput as exc:
            raise StructuredOutputError(
                f"the {request.role} model ({second.model_id}) gave no valid "
                f"{schema.__name__} even after one repair: {exc}"
            ) from None


def _observe_attempt(record: CallRecord) -> None:
    """One attempt told to the metrics and to the traces alike, under the same bounded
    names: a model or provider the operator did not configure (a repository's
    `.agentops.yml` may name any) is `other` in both."""
    provider, model, outcome = llm_metrics.attempt_labels(record)
    llm_metrics.observe_attempt(record)
    request_model = model.partition(":")[2] or model  # GenAI's request.model has no provider
    tracing.llm_call(
        provider, request_model, outcome, record.latency_ms, record.usage, record.cost_usd
    )
