"""The OpenTelemetry SDK behind `app/tracing.py`, imported only when tracing is on.

Spans go through a batch processor to the OTLP/HTTP exporter; both read the standard
variables (`OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`). A failing span records only its
exception's type (`error.type`): exception messages can quote payloads or secrets.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.redaction import register_secret

if TYPE_CHECKING:
    from app.llm.types import Usage
    from app.store.runs import Run

Attribute = str | int | float | bool
_PROPAGATOR = TraceContextTextMapPropagator()


_SHA = re.compile(r"[0-9a-f]{7,64}")


def route_template(url: str) -> str:
    """The route of a forge call without ids or names: a template as given
    (`/repos/{owner}/{name}/issues/{number}`, its `{?query}` dropped), or a path with its
    project (`/projects/{project}`), numbers (`{id}`) and commit hashes (`{sha}`) named."""
    path = urlsplit(url.split("{?", 1)[0]).path or "/"
    parts = path.split("/")
    for n, part in enumerate(parts):
        if part.startswith("{"):
            continue
        if n > 0 and parts[n - 1] == "projects":
            parts[n] = "{project}"
        elif part.isdigit():
            parts[n] = "{id}"
        elif _SHA.fullmatch(part) and any(c.isdigit() for c in part):
            parts[n] = "{sha}"
    return "/".join(parts)


class _Notes:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, name: str, value: Attribute) -> None:
        self._span.set_attribute(name, value)


HEADER_VARIABLES = ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")
_CREDENTIAL_HEADER = re.compile(r"(?i)auth|token|key|secret|passw|signature|cookie|session")


def register_header_secrets(environ: Mapping[str, str]) -> None:
    """The values of the exporter's credential headers (`authorization=Bearer …`, an API
    key) are secrets: redacted from every log line, as the exporter's own warnings may
    quote them. Other headers (`x-team=…`) are not: their values may be ordinary words."""
    for variable in HEADER_VARIABLES:
        for pair in environ.get(variable, "").split(","):
            name, _, value = pair.partition("=")
            if not _CREDENTIAL_HEADER.search(name):
                continue
            value = unquote(value.strip())
            register_secret(value)
            register_secret(value.rpartition(" ")[2])  # the token after a scheme


class Tracing:
    def __init__(self, service_name: str) -> None:
        register_header_secrets(os.environ)
        from_environment = OTELResourceDetector().detect()
        defaults = (
            {} if "service.name" in from_environment.attributes else {"service.name": service_name}
        )
        # Not the global provider: libraries that trace by themselves (the anthropic SDK)
        # would export their own spans through it, with attributes we do not vet.
        self.provider = TracerProvider(resource=Resource.create(defaults))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("agentops")

    def shutdown(self) -> None:
        self.provider.shutdown()

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        context: Context | None = None,
    ) -> Iterator[_Notes]:
        with self.tracer.start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield _Notes(span)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    def webhook_span(self, forge: str) -> contextlib.AbstractContextManager[_Notes]:
        # a new root: whoever posts to the webhook is not trusted with our trace ids
        root = trace.set_span_in_context(trace.INVALID_SPAN)
        attributes: dict[str, Attribute] = {"agentops.forge": forge}
        return self.span(f"webhook {forge}", attributes, SpanKind.SERVER, root)

    def run_span(self, run: Run) -> contextlib.AbstractContextManager[_Notes]:
        parent = _PROPAGATOR.extract({"traceparent": run.trace_parent or ""})
        attributes: dict[str, Attribute] = {
            "agentops.run_id": run.id,
            "agentops.command": run.command,
            "agentops.forge": run.forge,
        }
        if run.delivery_id:
            attributes["agentops.delivery_id"] = run.delivery_id
        return self.span(f"run {run.command}", attributes, SpanKind.CONSUMER, parent)

    def forge_span(self, method: str, url: str) -> contextlib.AbstractContextManager[_Notes]:
        route = route_template(url)
        attributes: dict[str, Attribute] = {
            "http.request.method": method,
            "url.template": route,
        }
        return self.span(f"forge {method} {route}", attributes, SpanKind.CLIENT)

    def note_current(self, **attributes: Attribute) -> None:
        trace.get_current_span().set_attributes(attributes)

    def trace_parent(self) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    def llm_call(
        self,
        provider: str,
        model: str,
        outcome: str,
        latency_ms: int,
        usage: Usage | None,
        cost_usd: float,
    ) -> None:
        """A span for an attempt that has just ended, named and described after the
        OpenTelemetry GenAI conventions where they have a name (`gen_ai.*`)."""
        end = time.time_ns()
        attributes: dict[str, Attribute] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "agentops.llm.outcome": outcome,
            "agentops.llm.cost_usd": cost_usd,
        }
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = (
                usage.input_tokens + usage.cached_tokens + usage.cache_write_tokens
            )
            attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
            attributes["agentops.llm.cached_tokens"] = usage.cached_tokens
        span = self.tracer.start_span(
            f"llm {provider}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=end - latency_ms * 1_000_000,
        )
        if outcome != "ok":
            span.set_attribute("error.type", outcome)
            span.set_status(Status(StatusCode.ERROR, outcome))
        span.end(end_time=end)
