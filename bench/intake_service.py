"""The intake benchmarks' service: a new database, a private Redis, and `agentops serve`
(a GitHub App whose webhook secret is `SECRET`; no worker, so accepted runs stay queued)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store.migrations import apply_migrations, ensure_database  # noqa: E402
from tests.conftest import PG_BASE, drop_database  # noqa: E402
from tests.e2e.harness import RedisServer, Service, ServiceProcess, base_env  # noqa: E402
from tests.sim.github import generate_app_key  # noqa: E402

SECRET = "bench-webhook-secret"


@dataclass(frozen=True)
class IntakeService:
    service: Service
    redis: RedisServer
    database_url: str
    queue: str

    @property
    def hook(self) -> str:
        return f"{self.service.url}/webhooks/github"


class UvicornWeb(ServiceProcess):
    """The web app as `agentops serve` builds it (`app.web:app_from_environment`), served
    by uvicorn's own command line with the HTTP parser `http`: to compare parsers."""

    def __init__(self, port: int, http: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__([], env, log_path)
        self.port = port
        self.http = http

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.web:app_from_environment",
                "--factory",
                "--port",
                str(self.port),
                "--http",
                self.http,
                "--loop",
                "asyncio",
                "--no-access-log",
                "--no-server-header",
                "--no-proxy-headers",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def intake_service(work: Path, http: str = "httptools") -> Iterator[IntakeService]:
    """`agentops serve` (httptools); with another `http`, the same app under uvicorn's
    command line with that parser."""
    db_name = f"agentops_bench_{uuid.uuid4().hex[:8]}"
    url = f"{PG_BASE}/{db_name}"
    asyncio.run(ensure_database(url))
    asyncio.run(apply_migrations(url))
    redis = RedisServer(work)
    redis.start()
    key, _ = generate_app_key()
    env = base_env(url, redis.url, work) | {
        "AGENTOPS_GITHUB_APP_ID": "1",
        "AGENTOPS_GITHUB_PRIVATE_KEY": key,
        "AGENTOPS_GITHUB_WEBHOOK_SECRET": SECRET,
    }
    service = Service(env, work)
    if http != "httptools":
        service.web = UvicornWeb(service.port, http, service.env, work / "web.log")
    try:
        service.start(worker=False)
        yield IntakeService(service, redis, url, env["AGENTOPS_QUEUE_NAME"])
    finally:
        service.stop()
        redis.stop()
        asyncio.run(drop_database(db_name))
