"""Prometheus metrics (`prometheus_client`): what each process counts, and its exposition.

Each module here holds the metrics of one part and one small function per place that
counts (`intake`, `runs`, `llm`, `forges`, `sandbox`); the code being measured calls that
function in one line. Values read at scrape time (runs by status, the queue, model
cooldowns) are a collector of their own (`scrape.py`).

With `PROMETHEUS_MULTIPROC_DIR` set (by `agentops serve --workers N`, `multiprocess.py`),
every process writes its counters and histograms to files in that directory and a scrape
answered by any of them sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Metric,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# no `_created` series: half the lines, and nothing a panel or an alert reads
disable_created_metrics()  # type: ignore[no-untyped-call]


class _Forward(Collector):
    """This process's own metrics, inside a registry made for one scrape."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def exposition(*extra: Collector) -> bytes:
    """The Prometheus text of this process (of every process, in multiprocess mode), with
    `extra` collectors read now."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)
