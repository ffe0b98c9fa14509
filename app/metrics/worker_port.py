"""`agentops worker`'s metrics port (`AGENTOPS_METRICS_PORT`): `GET /metrics` from a thread
of its own (prometheus_client's WSGI app), behind `AGENTOPS_METRICS_TOKEN` when set, as the
web process's `/metrics` is."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from app.config import Settings
from app.metrics import CONTENT_TYPE, exposition

StartResponse = Callable[..., Any]


def metrics_app(token: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app: `/metrics` (with the bearer token when one is set), else 404."""
    expected = f"Bearer {token}".encode()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: GET /metrics\n"]
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if token and not hmac.compare_digest(given, expected):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"unauthorized: send Authorization: Bearer <AGENTOPS_METRICS_TOKEN>\n"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [exposition()]

    return app


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """Start serving the worker's metrics in a daemon thread (None: no port set). An
    address that cannot be bound raises `OSError`."""
    if settings.metrics_port is None:
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    server = make_server(
        settings.metrics_host,
        settings.metrics_port,
        metrics_app(token),
        ThreadingWSGIServer,
        handler_class=_SilentHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
