"""`agentops serve`, `worker`, `dev` and `migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from typing import Any

from app.cli import CommandFailed
from app.config import Settings, load_settings
from app.forges.registry import FORGES
from app.log_format import formatter_for
from app.redaction import install_log_redaction
from app.tracing import start_tracing


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the web process (webhooks, API, health)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="intake processes sharing the port (1); every one can take any delivery",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser("worker", help="run the ARQ worker that executes runs")
    worker.set_defaults(handler=cmd_worker)

    dev = sub.add_parser("dev", help="migrate, then run web and worker in one process")
    dev.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    dev.add_argument("--port", type=int, default=8000, help="port to bind (8000)")
    dev.set_defaults(handler=cmd_dev)

    migrate = sub.add_parser("migrate", help="create the database if missing, apply migrations")
    migrate.set_defaults(handler=cmd_migrate)


# `/readyz` of `agentops dev` fails when its worker has not polled Redis for this long
# (it polls every 0.2 s; its start-up probes take a few seconds).
WORKER_SILENCE_SECONDS = 15.0


def setup_logging(settings: Settings, service: str = "agentops-web") -> None:
    """Every logger (ours, uvicorn's, arq's) through one handler on stderr, redacted,
    in `AGENTOPS_LOG_FORMAT`; and traces, when `OTEL_EXPORTER_OTLP_ENDPOINT` asks for them
    (`service`: the default `service.name`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(settings.log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    install_log_redaction(settings.secret_values())
    start_tracing(service)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.http_protocol import JoinedWritesHttpTools
    from app.metrics.multiprocess import shared_metrics_dir
    from app.web import create_app

    settings = load_settings()
    setup_logging(settings)
    _check_port_free(args.host, args.port)
    _announce(settings, args.host, args.port)
    if args.workers < 1:
        raise CommandFailed("--workers must be 1 or more")
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "proxy_headers": False,  # app/forwarded.py, for AGENTOPS_TRUSTED_PROXIES only
        "access_log": settings.access_log,
        "server_header": False,  # no software name for whoever probes the port
        # The C HTTP parser: a third less CPU per ignored delivery than h11 (bench/README.md,
        # "Intake throughput"), each answer written in one piece (app/http_protocol.py).
        # asyncio's loop, not uvloop: under uvloop the intake's budget was overrun by up to
        # 3 s while PostgreSQL restarted (test_intake_postgres_faults).
        "loop": "asyncio",
        "http": JoinedWritesHttpTools,
    }
    if args.workers > 1:  # each process builds its app from the same environment
        with shared_metrics_dir():
            uvicorn.run(
                "app.web:app_from_environment", factory=True, workers=args.workers, **options
            )
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.store.db import DatabaseUnavailable, TenantRoleUnsafe
    from jobs.worker import build_worker

    settings = load_settings()
    _check_models(settings)
    setup_logging(settings, "agentops-worker")
    _serve_worker_metrics(settings)
    try:
        build_worker(settings).run()
    except (DatabaseUnavailable, TenantRoleUnsafe) as exc:  # not worth waiting for
        raise CommandFailed(str(exc)) from None
    return 0


def _serve_worker_metrics(settings: Settings) -> None:
    from app.metrics.worker_port import MetricsTokenMissing, serve_worker_metrics

    try:
        if serve_worker_metrics(settings) is not None:
            print(
                f"worker metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics",
                file=sys.stderr,
            )
    except MetricsTokenMissing as exc:
        raise CommandFailed(str(exc)) from None
    except OSError as exc:
        raise CommandFailed(
            f"cannot serve the worker's metrics on {settings.metrics_host}:"
            f"{settings.metrics_port}: {exc.strerror or exc} (set AGENTOPS_METRICS_PORT)"
        ) from None


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    applied = asyncio.run(_migrate(settings))
    print(f"migrations applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


async def _migrate(settings: Settings) -> list[str]:
    from app.store import DATABASE_ERRORS
    from app.store.db import TENANT_ROLE
    from app.store.migrations import (
        apply_migrations,
        ensure_database,
        password_in,
        set_role_password,
    )

    dsn = settings.database_url
    try:
        if await ensure_database(dsn):
            print("created the database")
        applied = await apply_migrations(dsn)
        # the tenant login's password, when the operator gives one, is set from it
        tenant_password = password_in(settings.tenant_database_url or "")
        if tenant_password:
            await set_role_password(dsn, TENANT_ROLE, tenant_password)
        return applied
    except DATABASE_ERRORS as exc:
        raise CommandFailed(f"cannot migrate the database: {exc}") from exc


def _check_port_free(host: str, port: int) -> None:
    """One line, before anything starts, when another process holds the port."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as exc:
        raise CommandFailed(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)"
        ) from None


def _check_models(settings: Settings) -> None:
    """Every role's models name known roles and valid ids, before any run needs them
    (imports the model SDKs: only the commands that run work call it)."""
    from app.llm.model_ids import ModelIdError
    from app.llm.routing import resolve_routes

    try:
        resolve_routes(settings)
    except ModelIdError as exc:
        raise CommandFailed(f"configuration error: {exc}") from None


def cmd_dev(args: argparse.Namespace) -> int:
    settings = load_settings()
    _check_models(settings)
    setup_logging(settings)
    applied = asyncio.run(_migrate(settings))
    if applied:
        print(f"migrations applied: {', '.join(applied)}")
    _check_port_free(args.host, args.port)
    _announce(settings, args.host, args.port)
    asyncio.run(_dev(settings, args.host, args.port))
    return 0


async def _dev(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from app.cli.dev_server import DevServer
    from app.http_protocol import JoinedWritesHttpTools
    from app.web import create_app
    from jobs.worker import build_worker

    worker = build_worker(settings, handle_signals=False)  # the signals are ours, below
    app = create_app(settings, lambda: worker.consuming(within=WORKER_SILENCE_SECONDS))
    server = DevServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=settings.access_log,
            proxy_headers=False,  # app/forwarded.py, for AGENTOPS_TRUSTED_PROXIES only
            server_header=False,  # no software version for whoever probes the port
            http=JoinedWritesHttpTools,  # as `agentops serve` (the loop is asyncio.run's)
        )
    )

    def stop(sig: signal.Signals) -> None:
        """The web part stops as uvicorn does, the worker as `agentops worker` does (its
        runs handed over); a second signal stops both at once."""
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
        worker.stop(sig)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    worker_task = asyncio.create_task(worker.async_run())
    worker_task.add_done_callback(_say_worker_stopped)
    try:
        await server.serve()
    finally:
        if not worker.stopping.is_set():  # the web part ended by itself
            worker.stop(signal.SIGTERM)
        await worker.stopped()
        worker_task.cancel()
        await worker.close()


def _say_worker_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger("jobs.worker").error(
            "the worker of this process stopped (%s): /readyz says so; restart the process",
            task.exception(),
        )


def _announce(settings: Settings, host: str, port: int) -> None:
    base = settings.public_url.rstrip("/")
    print(f"AgentOps on http://{host}:{port}", file=sys.stderr)
    enabled = [spec for spec in FORGES if spec.enabled(settings)]
    for spec in enabled:
        print(f"  {spec.display_name} webhook URL: {base}{spec.webhook_path}", file=sys.stderr)
    if not enabled:
        page = base if "public_url" in settings.model_fields_set else f"http://{host}:{port}"
        print(f"  no forge configured: open {page}/ to create the GitHub App", file=sys.stderr)
