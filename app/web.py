"""The web process: webhooks (`app/webhook_endpoints.py`), health, metrics, the admin JSON
API and the setup page."""

from __future__ import annotations

import contextlib
import gc
import hmac
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app import gitlab_secret_page, runpage, setup_page, signin
from app.config import Settings, load_settings
from app.forwarded import ForwardedHeaders
from app.mcp.mount import mcp_mount
from app.metrics import CONTENT_TYPE, exposition
from app.metrics.scrape import QueueBacklog, ScrapeValues
from app.metrics.worker_port import is_loopback
from app.security_headers import SecurityHeaders
from app.signin import api as signin_api
from app.store import DATABASE_ERRORS, connect
from app.store import runs as run_store
from app.store import steps as step_store
from app.web_service import Service
from app.webhook_endpoints import WebhookEndpoints

log = logging.getLogger(__name__)
DB_ERRORS = DATABASE_ERRORS


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _text(status: int, text: str) -> PlainTextResponse:
    # reasons may quote the payload, whose JSON strings can hold lone surrogates
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return PlainTextResponse(text + "\n", status_code=status)


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
    client = request.client.host if request.client is not None else ""
    # a reverse proxy on this machine makes every public request a loopback one
    forwarded = any(
        h in ("forwarded", "via", "x-real-ip") or h.startswith("x-forwarded-")
        for h in request.headers
    )
    if not expected and (forwarded or not is_loopback(client)):
        return _text(
            403,
            "forbidden: /metrics without AGENTOPS_METRICS_TOKEN answers this machine only; "
            "set the token and send Authorization: Bearer <AGENTOPS_METRICS_TOKEN>",
        )
    counts: dict[str, int] | None = None
    if service.db is not None:
        with contextlib.suppress(*DB_ERRORS):
            async with service.db.admin() as conn:
                counts = await run_store.count_by_status_all_tenants(conn)
    backlog = await service.queue.recent_backlog()  # None while Redis is unreachable
    cooling = await service.cooldowns.active()  # likewise
    values = ScrapeValues(counts, QueueBacklog(*backlog) if backlog else None, cooling)
    return Response(exposition(values), media_type=CONTENT_TYPE)


def _admin_refusal(request: Request) -> Response | None:
    token = _service(request).settings.admin_token
    if token is None or not token.get_secret_value():
        return _text(403, "the admin API is off: set AGENTOPS_ADMIN_TOKEN to turn it on")
    if not _bearer_matches(request, token.get_secret_value()):
        return _text(401, "unauthorized: send Authorization: Bearer <AGENTOPS_ADMIN_TOKEN>")
    return None


async def api_runs(request: Request) -> Response:
    if "authorization" not in request.headers and (person := await signed_in(request)):
        return await signin_api.person_runs(request, person)
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
    raw = request.path_params["run_id"]
    if "authorization" not in request.headers and (person := await signed_in(request)):
        if not raw.isdigit():
            return _text(400, "run id must be a whole number")
        return await signin_api.person_run(request, person, int(raw))
    if (refusal := _admin_refusal(request)) is not None:
        return refusal
    if not raw.isdigit():
        return _text(400, "run id must be a whole number")
    service = _service(request)
    assert service.db is not None
    try:
        async with service.db.admin() as conn:
            run = await run_store.get_run_all_tenants(conn, int(raw))
            now = await step_store.run_snapshot(conn, run) if run else None
    except DB_ERRORS:
        return _text(503, "database unavailable")
    if now is None:
        return _text(404, f"no run {raw}")
    return JSONResponse(now.as_json())


async def signed_in(request: Request) -> signin.Viewer | None:
    """The signed-in person of the session cookie, if any (None while the database is down:
    the admin API's own answer follows)."""
    if not any(name in request.cookies for name in signin.SESSION_COOKIES):
        return None
    try:
        return await signin_api.signed_in_viewer(request)
    except signin.DATABASE_FAULTS:
        return None


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
    sign_in = signin.SignIn(settings, lambda: service.db)
    # one listening connection (as the owner: LISTEN is session state, kept off the
    # tenant pool) fanning run events out to this process's viewers
    run_events = runpage.RunEventHub(settings.database_url, lambda: service.db)
    mcp = mcp_mount(settings, service, run_events)  # `/mcp`: never open (app/mcp/gate.py)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # min_size=0: the web process starts, and answers 503, while PostgreSQL is down.
        service.db = await connect(
            settings.database_url,
            min_size=0,
            max_size=10,
            tenant_dsn=settings.tenant_database_url,
        )
        # What start-up made lives as long as the process: kept out of the collector's
        # reach, a full collection scans only what requests made, not every module and
        # model (those pauses were the intake's slowest answers).
        gc.collect()
        gc.freeze()
        try:
            async with mcp.running():
                yield
        finally:
            await run_events.close()
            await sign_in.aclose()
            await service.close()

    app = Starlette(
        routes=[
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
            *signin.routes(),
            *runpage.routes(),
            mcp.route,
        ],
        lifespan=lifespan,
        # the webhooks first: they answer before the rest of the stack, and need neither the
        # client's address nor the scheme a proxy saw
        middleware=[
            Middleware(WebhookEndpoints, service=service),
            Middleware(ForwardedHeaders, trusted=settings.proxy_networks),
            Middleware(SecurityHeaders),
        ],
    )
    app.state.service = service
    app.state.signin = sign_in
    app.state.run_events = run_events
    return app
