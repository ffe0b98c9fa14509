"""The intake benchmarks' service: a new database, a private Redis, and `agentops serve`
(a GitHub App whose webhook secret is `SECRET`; no worker, so accepted runs stay queued)."""

from __future__ import annotations

import asyncio
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
from tests.e2e.harness import RedisServer, Service, base_env  # noqa: E402
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


@contextmanager
def intake_service(work: Path) -> Iterator[IntakeService]:
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
    try:
        service.start(worker=False)
        yield IntakeService(service, redis, url, env["AGENTOPS_QUEUE_NAME"])
    finally:
        service.stop()
        redis.stop()
        asyncio.run(drop_database(db_name))
