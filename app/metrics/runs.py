"""Runs and their steps: how long each took, by command and final status, by step and
outcome. (Runs by status now are read from the database at scrape: `scrape.py`.)"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import Histogram

from app.commands import COMMANDS
from app.metrics.labels import bounded
from app.step_records import KINDS, REPLY_PREFIX

RUN_STATUSES = frozenset({"succeeded", "failed", "cancelled", "retried", "interrupted"})

RUN_SECONDS = Histogram(
    "agentops_run_seconds",
    "Time a worker spent on one try of a run's job, by command and how it ended.",
    ["command", "status"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
STEP_SECONDS = Histogram(
    "agentops_step_seconds",
    "Time one step of a run took, by step and outcome.",
    ["step", "outcome"],
    buckets=(0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 600, 1800),
)


@dataclass
class RunEnd:
    status: str = "interrupted"


@contextlib.contextmanager
def timed_run(command: str, retried: type[BaseException]) -> Iterator[RunEnd]:
    """Times one try of a run's job; the caller sets the status it ended with. Left
    unset, it is `interrupted` (the job was cancelled or timed out, or an internal
    error); `retried` on `retried` (the job is tried again later)."""
    started, end = time.monotonic(), RunEnd()
    try:
        yield end
    except retried:
        end.status = "retried"
        raise
    finally:
        status = bounded(end.status, RUN_STATUSES)
        RUN_SECONDS.labels(bounded(command, COMMANDS), status).observe(time.monotonic() - started)


def step_label(name: str) -> str:
    """A step's name (every reply step is `reply`)."""
    if name.startswith(REPLY_PREFIX):
        return "reply"
    return bounded(name, KINDS)


@contextlib.contextmanager
def timed_step(name: str, cancelled: type[BaseException]) -> Iterator[None]:
    """Times the step's work: `succeeded`, `cancelled` (on `cancelled`) or `failed`."""
    started, outcome = time.monotonic(), "failed"
    try:
        yield
        outcome = "succeeded"
    except cancelled:
        outcome = "cancelled"
        raise
    finally:
        STEP_SECONDS.labels(step_label(name), outcome).observe(time.monotonic() - started)
