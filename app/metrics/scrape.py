"""What the web process reads at each scrape (the database, Redis), as one collector:
runs by status, the ARQ queue's depth and the age of its oldest waiting job, and the
models every worker skips (their cooldowns). A value that could not be read (the database
or Redis away) is left out rather than shown as 0.

`agentops_queue_depth` and `agentops_queue_oldest_age_seconds` are read by autoscalers
(deploy/k8s): keep their names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import Metric
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.metrics.labels import OTHER
from app.metrics.llm import model_label

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class QueueBacklog:
    depth: int  # jobs due now and not taken by a worker
    oldest_age_seconds: float  # since the oldest of them was due (0 when none)


@dataclass(frozen=True, eq=False)  # a registry keys its collectors by identity
class ScrapeValues(Collector):
    runs_by_status: dict[str, int] | None
    queue: QueueBacklog | None
    models_cooling: dict[str, float] | None

    def collect(self) -> Iterable[Metric]:
        if self.runs_by_status is not None:
            runs = GaugeMetricFamily("agentops_runs", "Runs by status.", labels=["status"])
            counts = dict.fromkeys(RUN_STATUSES, 0)
            for status, count in self.runs_by_status.items():
                key = status if status in counts else OTHER
                counts[key] = counts.get(key, 0) + count
            for status, count in counts.items():
                runs.add_metric([status], count)
            yield runs
        if self.queue is not None:
            yield GaugeMetricFamily(
                "agentops_queue_depth",
                "Jobs waiting in the ARQ queue (due now, not taken by a worker).",
                value=self.queue.depth,
            )
            yield GaugeMetricFamily(
                "agentops_queue_oldest_age_seconds",
                "Seconds the oldest waiting job has been due (0 when none waits).",
                value=self.queue.oldest_age_seconds,
            )
        if self.models_cooling is not None:
            yield GaugeMetricFamily(
                "agentops_llm_models_in_cooldown",
                "Models every worker skips for now.",
                value=len(self.models_cooling),
            )
            seconds = GaugeMetricFamily(
                "agentops_llm_model_cooldown_seconds",
                "Seconds left of a model's cooldown (the longest, for models not configured).",
                labels=["model"],
            )
            by_label: dict[str, float] = {}
            for model, left in self.models_cooling.items():
                label = model_label(model)
                by_label[label] = max(left, by_label.get(label, 0.0))
            for label, left in sorted(by_label.items()):
                seconds.add_metric([label], round(left, 1))
            yield seconds
