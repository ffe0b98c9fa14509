"""Traces (OpenTelemetry), and the ids of the work every log line names: one call at each
point of the code that starts a span.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set:
then this module imports nothing of OpenTelemetry (the anthropic SDK imports its API for
tracing of its own, a no-op since no global tracer provider is ever set) and each call
here costs a function call, a context variable or a shared do-nothing context manager.
When on, `app/tracing_sdk.py` (imported only then) sends spans over OTLP/HTTP,
configured by the standard `OTEL_*` variables.

One trace per delivery: `webhook <forge>` in the web process; its W3C trace context is
stored with the run (`runs.trace_parent`), and the worker's `run <command>` continues it,
with `step <name>`, `llm <provider>` and `forge <METHOD> <route>` under it. Attributes
are ids and counts only: no token, no issue or comment text, no repository name or content.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from app.log_format import DELIVERY_ID, RUN_ID, TENANT_ID, work_fields

if TYPE_CHECKING:
    from app.llm.types import Usage
    from app.store.runs import Run
    from app.tracing_sdk import Tracing


class SpanNotes(Protocol):
    def set(self, name: str, value: str | int | float | bool) -> None: ...


class _NoSpan:
    def set(self, name: str, value: str | int | float | bool) -> None:
        pass


_NO_SPAN = _NoSpan()
_OFF = contextlib.nullcontext(_NO_SPAN)
_tracing: Tracing | None = None

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def start_tracing(service_name: str) -> bool:
    """Export spans when an OTLP endpoint is configured; `service_name` is the default
    `service.name` (`OTEL_SERVICE_NAME` wins). True when tracing is on."""
    global _tracing
    if _tracing is None and any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        from app.tracing_sdk import Tracing

        _tracing = Tracing(service_name)
    return _tracing is not None


def stop_tracing() -> None:
    """Send what is buffered and stop (also done at the process's exit)."""
    global _tracing
    if _tracing is not None:
        _tracing.shutdown()
        _tracing = None


def webhook_span(forge: str) -> contextlib.AbstractContextManager[SpanNotes]:
    """The intake of one delivery (a new trace: a sender's `traceparent` is not trusted)."""
    if _tracing is None:
        return _OFF
    return _tracing.webhook_span(forge)


def delivery_received(delivery_id: str) -> None:
    """The delivery being taken in: its id on the log lines and the webhook span."""
    DELIVERY_ID.set(delivery_id)
    if _tracing is not None:
        _tracing.note_current(**{"agentops.delivery_id": delivery_id})


def run_accepted(run_id: int | None, command: str | None = None) -> None:
    """The intake stored a run for this delivery (or found the one it had started)."""
    RUN_ID.set(run_id)
    if _tracing is not None and run_id is not None:
        notes: dict[str, str | int] = {"agentops.run_id": run_id}
        if command is not None:
            notes["agentops.command"] = command
        _tracing.note_current(**notes)


def tenant_known(tenant_id: int) -> None:
    """The intake knows the delivery's tenant: its id on the log lines."""
    TENANT_ID.set(tenant_id)


def trace_parent() -> str | None:
    """The current span's W3C `traceparent`, to store with a run; None when off."""
    if _tracing is None:
        return None
    return _tracing.trace_parent()


@contextlib.contextmanager
def run_span(run: Run) -> Iterator[SpanNotes]:
    """A run being executed by the worker, continuing its delivery's trace."""
    with work_fields(run_id=run.id, tenant_id=run.tenant_id, delivery_id=run.delivery_id):
        if _tracing is None:
            yield _NO_SPAN
            return
        with _tracing.run_span(run) as span:
            yield span


@contextlib.contextmanager
def step_span(name: str) -> Iterator[SpanNotes]:
    """One step of a run."""
    with work_fields(step=name):
        if _tracing is None:
            yield _NO_SPAN
            return
        with _tracing.span(f"step {name}", {"agentops.step": name}) as span:
            yield span


def forge_span(method: str, route: str) -> contextlib.AbstractContextManager[SpanNotes]:
    """One call to a forge's API; `route` is its template (`/repos/{owner}/{name}/…`)."""
    if _tracing is None:
        return _OFF
    return _tracing.forge_span(method, route)


def llm_call(
    provider: str,
    model: str,
    outcome: str,
    latency_ms: int,
    usage: Usage | None = None,
    cost_usd: float = 0.0,
) -> None:
    """One attempt at a model, just ended (`latency_ms` after it started)."""
    if _tracing is not None:
        _tracing.llm_call(provider, model, outcome, latency_ms, usage, cost_usd)
