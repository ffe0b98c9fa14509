"""LLM calls: attempts, tokens, cost and latency by provider, model and outcome.

The model label is bounded: a repository's `.agentops.yml` may name any model, so only
the models the operator configured and those `provider_specs` implies are label values
(`know_models`, called where routers are built); any other model is `other`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, get_args

from prometheus_client import Counter, Histogram

from app.llm.errors import BudgetExhausted, FailureKind
from app.llm.provider_specs import INLINE_COMPATIBLE, PROVIDER_NAMES, PROVIDERS
from app.llm.types import ROLES
from app.metrics.labels import bounded

if TYPE_CHECKING:
    from app.config import Settings
    from app.llm.call_log import CallRecord

OUTCOMES = frozenset({"ok", *get_args(FailureKind)})
_IMPLIED = frozenset(
    implied for spec in PROVIDERS for role in ROLES if (implied := spec.implied_model(role))
)
_known_models: frozenset[str] = _IMPLIED
_known_providers: frozenset[str] = frozenset({*PROVIDER_NAMES, INLINE_COMPATIBLE})

LABELS = ["provider", "model", "outcome"]
CALLS = Counter("agentops_llm_calls", "LLM call attempts by provider, model and outcome.", LABELS)
TOKENS = Counter(
    "agentops_llm_tokens",
    "LLM tokens by provider, model and kind (input, output, cache_read, cache_write).",
    ["provider", "model", "kind"],
)
COST = Counter("agentops_llm_cost_usd", "LLM spending in US dollars.", ["provider", "model"])
SECONDS = Histogram(
    "agentops_llm_call_seconds",
    "Time of one LLM call attempt.",
    LABELS,
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300),
)


BUDGET_REFUSALS = Counter(
    "agentops_llm_budget_refusals",
    "LLM calls refused because a budget would be exceeded, by budget (run, tenant_month).",
    ["budget"],
)


@contextlib.contextmanager
def counting_budget_refusals() -> Iterator[None]:
    """Counts a `BudgetExhausted` raised inside (and lets it go on)."""
    try:
        yield
    except BudgetExhausted as exc:
        BUDGET_REFUSALS.labels("run" if exc.budget == "run" else "tenant_month").inc()
        raise


def _model_label(model_id: str) -> str:
    """`provider:model` without an inline server's URL (`openai-compatible:m@http://…`)."""
    provider, _, model = model_id.partition(":")
    if provider == INLINE_COMPATIBLE:
        model = model.rpartition("@")[0] or model
    return f"{provider}:{model}"


def know_models(settings: Settings) -> None:
    """Take the operator's models (every role's chain from settings) as label values."""
    from app.llm.model_ids import ModelIdError
    from app.llm.routing import resolve_routes

    global _known_models, _known_providers
    try:
        chains = resolve_routes(settings).chains.values()
    except ModelIdError:  # refused at start with its own message; count them as `other`
        return
    configured = {_model_label(str(model)) for chain in chains for model in chain}
    _known_models = _IMPLIED | configured
    _known_providers = frozenset({*PROVIDER_NAMES, INLINE_COMPATIBLE, *settings.llm_endpoints})


def model_label(model_id: str) -> str:
    """The model's label value: itself when the operator configured it, else `other`."""
    return bounded(_model_label(model_id), _known_models)


def attempt_labels(record: CallRecord) -> tuple[str, str, str]:
    """Provider, model (`provider:model`) and outcome of an attempt, each bounded to
    what the operator configured (else `other`)."""
    provider = bounded(record.provider, _known_providers)
    return provider, model_label(record.model_id), bounded(record.outcome, OUTCOMES)


def observe_attempt(record: CallRecord) -> None:
    """One attempt of one call, as the router writes it to the call log."""
    provider, model, outcome = attempt_labels(record)
    CALLS.labels(provider, model, outcome).inc()
    SECONDS.labels(provider, model, outcome).observe(record.latency_ms / 1000)
    usage = record.usage
    for kind, tokens in (
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cached_tokens),
        ("cache_write", usage.cache_write_tokens),
    ):
        if tokens:
            TOKENS.labels(provider, model, kind).inc(tokens)
    if record.cost_usd:
        COST.labels(provider, model).inc(record.cost_usd)
