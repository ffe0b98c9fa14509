"""An OTLP/HTTP trace receiver on loopback: `POST /v1/traces` with a protobuf
`ExportTraceServiceRequest`, decoded with `opentelemetry-proto` as a collector would.

Keeps every body it received (for "this string was never sent" checks) and every span,
flattened with its service name and attributes.

    receiver = OtlpReceiver()
    with serve_app(receiver.app) as url: ...   # OTEL_EXPORTER_OTLP_ENDPOINT=url
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    kind: int
    attributes: dict[str, Any]
    status_code: int


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class OtlpReceiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.spans: list[ReceivedSpan] = []
        self.refused = 0
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])

    async def _traces(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if request.headers.get("content-type") != PROTOBUF:
            self.refused += 1
            return Response("expected protobuf", 415)
        export = ExportTraceServiceRequest()
        try:
            export.ParseFromString(body)
        except DecodeError:
            self.refused += 1
            return Response("not an ExportTraceServiceRequest", 400)
        spans = [
            ReceivedSpan(
                service=str(
                    next(
                        (
                            _value(a.value)
                            for a in batch.resource.attributes
                            if a.key == "service.name"
                        ),
                        "",
                    )
                ),
                name=span.name,
                trace_id=span.trace_id.hex(),
                span_id=span.span_id.hex(),
                parent_id=span.parent_span_id.hex(),
                kind=span.kind,
                attributes={a.key: _value(a.value) for a in span.attributes},
                status_code=span.status.code,
            )
            for batch in export.resource_spans
            for scope in batch.scope_spans
            for span in scope.spans
        ]
        with self._lock:
            self.bodies.append(body)
            self.spans.extend(spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        return Response(answer, 200, media_type=PROTOBUF)

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def all_bytes(self) -> bytes:
        with self._lock:
            return b"".join(self.bodies)
