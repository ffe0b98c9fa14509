"""Memory of the web process under large deliveries that fail authentication.

Starts `agentops serve` (local PostgreSQL and Redis, a GitHub webhook secret), sends
`--posts` concurrent bodies of `--megabytes` MB, first unsigned, then with a signature of
the right shape that does not match, and prints the process's resident memory before,
and its peak (VmHWM) after each wave, from /proc.

    .venv/bin/python bench/intake_memory.py [--posts 20] [--megabytes 24]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def main(posts: int, megabytes: int) -> None:
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "AGENTOPS_GITHUB_WEBHOOK_SECRET": "bench-secret-0123456789abcdef",
        "AGENTOPS_DATABASE_URL": os.environ.get(
            "AGENTOPS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/agentops"
        ),
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/webhooks/github"
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        body = b"x" * (megabytes * 1024 * 1024)
        print(f"resident at start: {memory_mb(web.pid, 'VmRSS'):.0f} MB")
        waves = {
            "unsigned": {},
            "wrongly signed": {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        }
        for name, headers in waves.items():
            base = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "d", **headers}

            def post(_: int, base: dict[str, str] = base) -> int:
                return httpx.post(url, content=body, headers=base, timeout=60).status_code

            with ThreadPoolExecutor(posts) as pool:
                codes = sorted(set(pool.map(post, range(posts))))
            print(
                f"{posts} {name} posts of {megabytes} MB (answers {codes}): "
                f"peak {memory_mb(web.pid, 'VmHWM'):.0f} MB, "
                f"resident after {memory_mb(web.pid, 'VmRSS'):.0f} MB"
            )
    except LookupError:
        web.wait(10)
        said = web.stderr.read().decode()[-2000:] if web.stderr else ""
        raise SystemExit(f"the web process stopped: {said}") from None
    finally:
        web.terminate()
        web.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=24)
    args = parser.parse_args()
    main(args.posts, args.megabytes)
