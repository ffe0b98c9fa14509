"""Our code's CPU per ignored GitHub delivery, without the server or the network.

    .venv/bin/python bench/intake_inprocess.py [--count 20000] [--rounds 5]

The webhook endpoint (`app/webhook_endpoints.py`, as `agentops serve` mounts it) is called
as an ASGI app in one process, with signed `issue_comment` deliveries whose comment holds
no command: headers, body, HMAC, JSON, the payload's model, the command parser, the time
budget, metrics and the answer, and nothing of uvicorn, the sockets or PostgreSQL (an
ignored delivery stores nothing). What `bench/intake_cpu.py` measures in the real service
is this plus the server's and the kernel's share; this one moves with our code alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.store import Database  # noqa: E402
from app.web_service import Service  # noqa: E402
from app.webhook_endpoints import WebhookEndpoints  # noqa: E402
from tests.e2e import github_events as events  # noqa: E402
from tests.sim.github import generate_app_key  # noqa: E402

SECRET = "bench-webhook-secret"


def signed_deliveries(count: int) -> list[tuple[bytes, str]]:
    out = []
    for n in range(count):
        payload = events.issue_comment(
            "acme/app", 7, 1 + n, "thanks, looks good", "alice", comment_id=1000 + n
        )
        body = json.dumps(payload, separators=(",", ":")).encode()
        out.append((body, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()))
    return out


async def measure(count: int, rounds: int) -> tuple[list[float], set[int]]:
    key, _ = generate_app_key()
    settings = Settings.model_validate(
        {
            "github_app_id": 1,
            "github_private_key": key,
            "github_webhook_secret": SECRET,
            "database_url": "postgresql://unused@127.0.0.1/unused",
        }
    )
    service = Service(settings)
    service.db = cast(Database, object())  # an ignored delivery never reaches it
    endpoint = WebhookEndpoints(None, service)  # type: ignore[arg-type]
    deliveries = signed_deliveries(200)
    statuses: set[int] = set()

    async def one(n: int) -> None:
        body, mac = deliveries[n % len(deliveries)]
        scope = {
            "type": "http",
            "path": "/webhooks/github",
            "method": "POST",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"x-github-event", b"issue_comment"),
                (b"x-github-delivery", f"delivery-{n}".encode()),
                (b"x-hub-signature-256", f"sha256={mac}".encode()),
                (b"content-length", str(len(body)).encode()),
                (b"user-agent", b"GitHub-Hookshot/bench"),
            ],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.add(message["status"])

        await endpoint(scope, receive, send)  # type: ignore[arg-type]

    for n in range(2000):  # warm: caches, the first timer, the interpreter's specialising
        await one(n)
    figures = []
    for _ in range(rounds):
        started = time.process_time()
        for n in range(count):
            await one(n)
        figures.append(1e6 * (time.process_time() - started) / count)
    await service.queue.close()
    return figures, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # an ignored delivery logs nothing above DEBUG anyway
    figures, statuses = asyncio.run(measure(args.count, args.rounds))
    if statuses != {200}:
        raise SystemExit(f"answers were {sorted(statuses)}, not all 200 (ignored)")
    print(
        f"ignored delivery, our code's CPU: min {min(figures):.1f} µs, median "
        f"{statistics.median(figures):.1f} µs ({args.rounds} rounds of {args.count})"
    )


if __name__ == "__main__":
    main()
