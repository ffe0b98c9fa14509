"""Starlette routes: webhooks, health, metrics, the admin JSON API and the setup page."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import gitlab_secret_page, setup_page
from app.config import Settings, load_settings
from app.events import PayloadError
from app.intake import Intake
from app.llm.factory import shared_cooldowns
from app.metrics import Metrics
from app.queue import RunQueue
from app.store import DATABASE_ERRORS, UNSTORABLE_VALUE_ERRORS, Database, connect
from app.store import runs as run_store
from app.store import steps as step_store
from app.webhooks import (
    SignatureError,
    github_mac,
    github_signature_digest,
    gitlab_delivery_id,
    verify_github_mac,
    verify_gitlab_project_token,
    verify_gitlab_token_shape,
    verify_standard_webhook,
)
from handlers import github as github_handlers
from handlers import gitlab as gitlab_handlers

log = logging.getLogger(__name__)
DB_ERRORS = DATABASE_ERRORS


class BodyTooLarge(Exception):
    pass


class Receiving:
    """Bytes of webhook bodies being received at once, across requests: beyond `limit`,
    a new body is refused with a 503 instead of held in memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0


class TooMuchAtOnce(Exception):
    pass


async def read_body(
    request: Request, limit: int, mac: hmac.HMAC | None = None, receiving: Receiving | None = None
) -> bytearray:
    """The whole body, refusing (without buffering it all) anything over `limit` bytes;
    `mac` is fed each piece as it arrives."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    try:
        async for chunk in request.stream():
            if len(body) + len(chunk) > limit:
                raise BodyTooLarge
            if receiving is not None:
                if receiving.held + len(chunk) > receiving.limit:
                    raise TooMuchAtOnce
                receiving.held += len(chunk)
            body += chunk
            if mac is not None:
                mac.update(chunk)
    finally:
        if receiving is not None:
            receiving.held -= len(body)
    return body


def decode_json(body: bytes | bytearray, content_type: str) -> Any:
    """Parse a webhook body; `PayloadError` with the reason when it is not usable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(text)
        if "payload" not in form:
            raise PayloadError("form body has no payload field")
        text = form["payload"][0]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        raise PayloadError("body is not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise PayloadError(f"body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError("payload must be a JSON object")
    return data


# On every answer; a page that needs more (the set-up form) sets its own policy.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` that a response did not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Service:
    """Everything the routes share, created at startup."""

    def __init__(
        self, settings: Settings, worker_consuming: Callable[[], bool] | None = None
    ) -> None:
        self.settings = settings
        self.worker_consuming = worker_consuming
        self.metrics = Metrics()
        self.db: Database | None = None
        self.queue = RunQueue(settings.redis_url, settings.queue_name)
        self.cooldowns = shared_cooldowns(settings)
        self.pending = 0  # webhook deliveries being handled now
        self.receiving = Receiving(settings.intake_max_receiving_mb * 1024 * 1024)
        self.github = github_handlers.GitHubContext(
            settings.github_app_id,
            settings.github_bot_login,
            settings.labels,
            settings.repository_labels,
        )
        self.gitlab = gitlab_handlers.GitLabContext(
            settings.gitlab_url or "",
            settings.gitlab_bot_username,
            settings.labels,
            settings.repository_labels,
        )

    @property
    def intake(self) -> Intake:
        assert self.db is not None
        return Intake(self.db, self.queue)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _text(status: int, text: str) -> PlainTextResponse:
    # reasons may quote the payload, whose JSON strings can hold lone surrogates
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return PlainTextResponse(text + "\n", status_code=status)


def _observed(
    forge: str, handle: Callable[[Service, Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """The webhook endpoint for `forge`, counted and timed in /metrics."""

    async def endpoint(request: Request) -> Response:
        service = _service(request)
        started = time.perf_counter()
        request.state.deadline = asyncio.get_running_loop().time() + (
            service.settings.intake_budget_seconds
        )
        response = await _within_budget(service, request, handle)
        service.metrics.observe_webhook(
            forge, str(response.status_code), time.perf_counter() - started
        )
        return response

    return endpoint


async def _within_budget(
    service: Service, request: Request, handle: Callable[[Service, Request], Awaitable[Response]]
) -> Response:
    """Answer within the intake budget: a body that does not arrive in it is a 408, a
    delivery not stored in it a 503 (the forge sends it again; if it was stored after
    all, the second one is a duplicate); too many deliveries at once are shed at once."""
    if service.pending >= service.settings.intake_max_pending:
        return _busy("too many deliveries at once")
    service.pending += 1
    try:
        async with asyncio.timeout_at(request.state.deadline):
            return await handle(service, request)
    except TimeoutError:
        if not getattr(request.state, "body_read", False):
            log.warning("webhook body not received within the intake budget")
            return _text(408, "the body did not arrive in time")
        log.warning("delivery not stored within the intake budget: answered 503")
        return _busy("not stored in time")
    except ClientDisconnect:
        log.info("webhook client went away before sending its whole body")
        return _text(400, "the client went away")
    finally:
        service.pending -= 1


async def _webhook_body(
    service: Service, request: Request, mac: hmac.HMAC | None = None
) -> bytearray | Response:
    """The delivery's body, or the answer refusing it (too large, too much at once)."""
    try:
        body = await read_body(request, service.settings.max_body_bytes, mac, service.receiving)
    except BodyTooLarge:
        return _text(413, "body too large")
    except TooMuchAtOnce:
        return _busy("too much being received at once")
    request.state.body_read = True  # from here, running out of time is "not stored"
    return body


def _busy(reason: str) -> PlainTextResponse:
    response = _text(503, f"busy: {reason}; the delivery was not stored, send it again")
    response.headers["Retry-After"] = "5"
    return response


_EVENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")


async def _github_webhook(service: Service, request: Request) -> Response:
    secret = service.settings.github_webhook_secret
    if secret is None:
        return _text(404, "GitHub is not configured on this AgentOps")
    headers = request.headers
    try:  # an unsigned delivery is refused before its body is read
        digest = github_signature_digest(headers.get("x-hub-signature-256"))
    except SignatureError as exc:
        return _text(401, f"unauthorized: {exc}")
    mac = github_mac(secret.get_secret_value().encode())
    body = await _webhook_body(service, request, mac)
    if isinstance(body, Response):
        return body
    try:
        verify_github_mac(mac, digest)
    except SignatureError as exc:
        return _text(401, f"unauthorized: {exc}")
    event_name = headers.get("x-github-event")
    delivery_id = headers.get("x-github-delivery")
    if not event_name or not delivery_id:
        return _text(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if not _EVENT_NAME.fullmatch(event_name):
        return _text(400, "bad X-GitHub-Event header: not an event name")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        return _text(400, "bad X-GitHub-Delivery header: 1 to 200 visible ASCII characters")
    try:
        data = decode_json(body, headers.get("content-type", "application/json"))
        if event_name == "ping":
            return _text(200, "pong")
        outcome = github_handlers.interpret_delivery(event_name, data, delivery_id, service.github)
    except PayloadError as exc:
        return _text(400, f"bad payload: {exc}")
    return await _accept(service, outcome, delivery_id, event_name)


async def _gitlab_webhook(service: Service, request: Request) -> Response:
    settings = service.settings
    if settings.gitlab_webhook_secret is None:
        return _text(404, "GitLab is not configured on this AgentOps")
    headers = request.headers
    try:  # what the headers alone can refuse is refused before the body is read
        verify_gitlab_token_shape(
            headers.get("x-gitlab-token"),
            accept_shared_secret=settings.gitlab_accept_shared_secret,
        )
    except SignatureError as exc:
        return _text(401, f"unauthorized: {exc}")
    body = await _webhook_body(service, request)
    if isinstance(body, Response):
        return body
    try:
        if settings.gitlab_signing_token is not None:
            verify_standard_webhook(
                settings.gitlab_signing_token.get_secret_value(), headers, body, time.time()
            )
    except SignatureError as exc:
        return _text(401, f"unauthorized: {exc}")
    try:  # the token belongs to the project the payload names: read it to know which
        data = decode_json(body, headers.get("content-type", "application/json"))
    except PayloadError as exc:
        return _text(400, f"bad payload: {exc}")
    try:
        matched = verify_gitlab_project_token(
            settings.gitlab_webhook_secret.get_secret_value(),
            gitlab_handlers.project_path(data),
            headers.get("x-gitlab-token"),
            accept_shared_secret=settings.gitlab_accept_shared_secret,
        )
    except SignatureError as exc:
        return _text(401, f"unauthorized: {exc}")
    if matched == "shared secret":
        log.warning(
            "GitLab delivery for %s accepted with the shared AGENTOPS_GITLAB_WEBHOOK_SECRET"
            " (AGENTOPS_GITLAB_ACCEPT_SHARED_SECRET is on): any project's maintainer can"
            " forge it; give the hook its own token (`agentops gitlab-secret PATH`)",
            gitlab_handlers.project_path(data),
        )
    event_name = headers.get("x-gitlab-event")
    if not event_name:
        return _text(400, "missing X-Gitlab-Event header")
    if not _EVENT_NAME.fullmatch(event_name):
        return _text(400, "bad X-Gitlab-Event header: not an event name")
    delivery_id = gitlab_delivery_id(headers, body)
    try:
        outcome = gitlab_handlers.interpret(event_name, data, delivery_id, service.gitlab)
    except PayloadError as exc:
        return _text(400, f"bad payload: {exc}")
    return await _accept(service, outcome, delivery_id, event_name)


async def _accept(service: Service, outcome: Any, delivery_id: str, event: str) -> Response:
    try:
        result = await service.intake.accept(outcome, delivery_id, event)
    except DB_ERRORS as exc:
        if isinstance(exc, UNSTORABLE_VALUE_ERRORS):  # server or client-side value
            log.warning(
                "delivery %s not stored, a value cannot be stored: %s",
                delivery_id,
                type(exc).__name__,
            )
            return _text(
                400,
                "bad payload: a value in it cannot be stored"
                " (a number out of range or a NUL or invalid character)",
            )
        log.error(
            "delivery %s not stored, database unavailable: %s", delivery_id, type(exc).__name__
        )
        return _text(503, "database unavailable: the delivery was not stored, send it again")
    return _text(result.status_code, result.text)


async def healthz(request: Request) -> Response:
    return _text(200, "ok")


async def readyz(request: Request) -> Response:
    service = _service(request)
    database = service.db is not None and await service.db.ping()
    redis = await service.queue.ping()
    body = {
        "database": "ok" if database else "unreachable",
        "redis": "ok" if redis else "unreachable",
    }
    ready = database and redis
    if service.worker_consuming is not None:  # `agentops dev`: the worker in this process
        consuming = service.worker_consuming()
        body["worker"] = "consuming" if consuming else "not consuming"
        ready = ready and consuming
    return JSONResponse(body, status_code=200 if ready else 503)


def _bearer_matches(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def metrics(request: Request) -> Response:
    service = _service(request)
    token = service.settings.metrics_token
    expected = token.get_secret_value() if token is not None else ""
    if expected and not _bearer_matches(request, expected):
        response = _text(401, "unauthorized: send Authorization: Bearer <AGENTOPS_METRICS_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    counts: dict[str, int] | None = None
    if service.db is not None:
        with contextlib.suppress(*DB_ERRORS):
            async with service.db.admin() as conn:
                counts = await run_store.count_by_status_all_tenants(conn)
    cooling = await service.cooldowns.active()  # None while Redis is unreachable
    return PlainTextResponse(
        service.metrics.render(counts, cooling), media_type="text/plain; version=0.0.4"
    )


def _admin_refusal(request: Request) -> Response | None:
    token = _service(request).settings.admin_token
    if token is None or not token.get_secret_value():
        return _text(403, "the admin API is off: set AGENTOPS_ADMIN_TOKEN to turn it on")
    if not _bearer_matches(request, token.get_secret_value()):
        return _text(401, "unauthorized: send Authorization: Bearer <AGENTOPS_ADMIN_TOKEN>")
    return None


async def api_runs(request: Request) -> Response:
    if (refusal := _admin_refusal(request)) is not None:
        return refusal
    params = request.query_params
    try:
        limit = min(max(int(params.get("limit", "50")), 1), 500)
        before = int(params["before"]) if "before" in params else None
    except ValueError:
        return _text(400, "limit and before must be whole numbers")
    service = _service(request)
    assert service.db is not None
    try:
        async with service.db.admin() as conn:
            runs = await run_store.list_runs_all_tenants(conn, limit, before, params.get("status"))
    except DB_ERRORS:
        return _text(503, "database unavailable")
    return JSONResponse({"runs": [r.as_json() for r in runs]})


async def api_run(request: Request) -> Response:
    if (refusal := _admin_refusal(request)) is not None:
        return refusal
    raw = request.path_params["run_id"]
    if not raw.isdigit():
        return _text(400, "run id must be a whole number")
    service = _service(request)
    assert service.db is not None
    try:
        async with service.db.admin() as conn:
            run = await run_store.get_run_all_tenants(conn, int(raw))
            steps = await step_store.list_steps(conn, int(raw)) if run else []
    except DB_ERRORS:
        return _text(503, "database unavailable")
    if run is None:
        return _text(404, f"no run {raw}")
    return JSONResponse({**run.as_json(), "steps": [s.as_json() for s in steps]})


def app_from_environment() -> Starlette:
    """The web app from `AGENTOPS_*` (checked by the parent before it starts processes):
    what each process of `agentops serve --workers N` builds, with the same logging (and
    its redaction of secrets) as the parent."""
    from app.cli.service import setup_logging

    settings = load_settings()
    setup_logging(settings)
    return create_app(settings)


def create_app(settings: Settings, worker_consuming: Callable[[], bool] | None = None) -> Starlette:
    """The web app; `worker_consuming` tells `/readyz` about a worker in this process."""
    service = Service(settings, worker_consuming)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # min_size=0: the web process starts, and answers 503, while PostgreSQL is down.
        service.db = await connect(
            settings.database_url,
            min_size=0,
            max_size=10,
            tenant_dsn=settings.tenant_database_url,
        )
        try:
            yield
        finally:
            await service.queue.close()
            await service.cooldowns.close()
            await service.db.close()

    app = Starlette(
        routes=[
            Route("/webhooks/github", _observed("github", _github_webhook), methods=["POST"]),
            Route("/webhooks/gitlab", _observed("gitlab", _gitlab_webhook), methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/api/runs", api_runs),
            Route("/api/runs/{run_id}", api_run),
            Route("/", setup_page.index),
            Route("/setup/callback", setup_page.callback),
            Route(
                gitlab_secret_page.PATH, gitlab_secret_page.gitlab_secret, methods=["GET", "POST"]
            ),
        ],
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.service = service
    return app
