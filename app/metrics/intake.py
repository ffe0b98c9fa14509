"""The webhook intake: deliveries by forge and answer, and the time to answer.

`observe_webhook` is on the intake's hot path: the labelled children are made once and
kept, so a delivery costs one counter increment and one histogram observation.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from app.metrics.labels import OTHER, WEBHOOK_STATUSES

WEBHOOKS = Counter(
    "agentops_webhooks",
    "Webhook deliveries by forge and outcome (the HTTP status answered).",
    ["forge", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "agentops_webhook_seconds",
    "Time to answer a webhook delivery.",
    ["forge"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_counted: dict[tuple[str, int], Counter] = {}
_timed: dict[str, Histogram] = {}


def observe_webhook(forge: str, status: int, seconds: float) -> None:
    """One answered delivery (`forge` is a registry kind: a fixed set)."""
    counter = _counted.get((forge, status))
    if counter is None:
        outcome = str(status) if str(status) in WEBHOOK_STATUSES else OTHER
        counter = _counted[(forge, status)] = WEBHOOKS.labels(forge, outcome)
    counter.inc()
    timer = _timed.get(forge)
    if timer is None:
        timer = _timed[forge] = WEBHOOK_SECONDS.labels(forge)
    timer.observe(seconds)
