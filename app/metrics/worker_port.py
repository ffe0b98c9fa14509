"""`agentops worker`'s metrics port (`AGENTOPS_METRICS_PORT`): `GET /metrics` from a thread
of its own (prometheus_client's WSGI app), behind `AGENTOPS_METRICS_TOKEN` when set, as the
web process's `/metrics` is. Without a token it binds loopback only."""

from __future__ import annotations

import hmac
import ipaddress
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


class MetricsTokenMissing(ValueError):
    """The metrics port would be open beyond this machine without a token."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """Start serving the worker's metrics in a daemon thread (None: no port set). An
    address that cannot be bound raises `OSError`; an address beyond loopback without
    `AGENTOPS_METRICS_TOKEN`, `MetricsTokenMissing`."""
    if settings.metrics_port is None:
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token and not is_loopback(settings.metrics_host):
        raise MetricsTokenMissing(
            f"the worker's metrics port on {settings.metrics_host} (not loopback) needs "
            "AGENTOPS_METRICS_TOKEN: set it (Prometheus sends it as a bearer token), or "
            "AGENTOPS_METRICS_HOST=127.0.0.1"
        )
    server = make_server(
        settings.metrics_host,
        settings.metrics_port,
        metrics_app(token),
        ThreadingWSGIServer,
        handler_class=_SilentHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
