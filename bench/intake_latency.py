"""Webhook intake latency: signed deliveries posted to a real web process.

    .venv/bin/python bench/intake_latency.py [--requests 200]

Real PostgreSQL and a private Redis; no worker runs, so every accepted run stays queued.
Prints the latency of accepted commands (delivery + run stored, job enqueued), of ignored
events, and of duplicates, as seen by a client on loopback with a kept-alive connection.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_service import SECRET, intake_service  # noqa: E402
from tests.e2e import github_events as events  # noqa: E402


def post(
    client: httpx.Client, url: str, event: str, payload: dict[str, object], delivery: str
) -> tuple[int, float]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    response = client.post(
        url,
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        },
    )
    return response.status_code, (time.perf_counter() - started) * 1000


def report(name: str, values: list[float]) -> None:
    values = sorted(values)
    p95 = values[int(len(values) * 0.95) - 1]
    print(
        f"{name:<22} n={len(values):<4} median {statistics.median(values):6.1f} ms   "
        f"p95 {p95:6.1f} ms   max {values[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agentops-intake-"))
    accepted: list[float] = []
    ignored: list[float] = []
    duplicate: list[float] = []
    labels: list[float] = []
    with intake_service(work) as intake, httpx.Client(timeout=10) as client:
        hook = intake.hook
        for n in range(args.requests):
            payload = events.issue_comment(
                "acme/app", 7, n + 1, "/agentops help", "alice", comment_id=10_000 + n
            )
            status, ms = post(client, hook, "issue_comment", payload, f"d-{n}")
            assert status == 202, status
            accepted.append(ms)
            status, ms = post(client, hook, "issue_comment", payload, f"d-{n}")
            assert status == 200, status
            duplicate.append(ms)
            chat = events.issue_comment("acme/app", 7, n + 1, "thanks!", "alice")
            status, ms = post(client, hook, "issue_comment", chat, f"i-{n}")
            assert status == 200, status
            ignored.append(ms)
            # a label the operator's map does not name: a label check for the worker
            # (it was ignored before repository labels were honoured)
            label = events.issues_labeled("acme/app", 7, n + 1, "bug", "alice")
            status, ms = post(client, hook, "issues", label, f"l-{n}")
            assert status in (200, 202), status
            labels.append(ms)
    report("accepted (202)", accepted)
    report("duplicate (200)", duplicate)
    report("ignored (200)", ignored)
    report("unmapped label", labels)


if __name__ == "__main__":
    main()
