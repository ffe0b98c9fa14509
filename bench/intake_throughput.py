"""Webhook intake throughput and latency under load, with wrk, beside a bare endpoint.

    .venv/bin/python bench/intake_throughput.py [--seconds 10] [--connections 32]

One run measures, on the same machine and the same uvicorn:
- a bare Starlette endpoint that reads the body and answers 202 (the yardstick), and the
  same endpoint with `agentops serve`'s protocol (app/http_protocol.py: each answer
  written in one piece), to tell the server's share of the service's figures from ours;
- `agentops serve` taking distinct, pre-signed `/agentops help` commands (each one a
  stored delivery and run, queued for a worker) and distinct ignored comments;
- accepted commands at a fixed rate (`--rate`, 500/s), for the latency percentiles;
- the floor at the same rate, in the same run: a bare endpoint that stores each body with
  one INSERT committed on its own (`bench/floor_endpoint.py`), on the same PostgreSQL and
  the service's protocol: the latency no intake that stores before it answers can beat on
  this machine.
HTTP is parsed by httptools on both sides (as `agentops serve` does); `--h11` runs the
service's app and the bare endpoints with h11 instead (uvicorn's pure-Python parser).
Real PostgreSQL (a new database) and a private Redis; no worker runs. After the load it
checks that every 202 is a stored run with its job in Redis (nothing lost by answering
before the enqueue). Needs `wrk` (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_service import SECRET, intake_service  # noqa: E402
from tests.e2e import github_events as events  # noqa: E402
from tests.e2e.harness import wait_for  # noqa: E402
from tests.sim.serve import free_port  # noqa: E402

LUA = ROOT / "bench" / "intake.lua"
PACED_CONNECTIONS = 20


def write_requests(path: Path, count: int, body_text: str, first_comment: int) -> None:
    """`count` distinct deliveries (distinct comments, so distinct commands), signed."""
    prefix = path.stem
    with path.open("w") as out:
        for n in range(count):
            payload = events.issue_comment(
                "acme/app", 7, 1 + n % 500, body_text, "alice", comment_id=first_comment + n
            )
            body = json.dumps(payload, separators=(",", ":"))
            mac = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
            out.write(f"issue_comment\t{prefix}-{n}\tsha256={mac}\t{body}\n")


def wrk(
    url: str, requests: Path, seconds: int, connections: int, rate: int = 0, latency: float = 0
) -> dict[str, Any]:
    """wrk's figures; with `rate`, each connection waits 1000 * connections / rate ms less
    `latency` (the answer's own time, measured by a probe) between its requests."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    args += ["-s", str(LUA), url, "--", str(requests)]
    if rate:
        args += [str(rate), str(connections), f"{latency:.3f}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("{"))
    result: dict[str, Any] = json.loads(line)
    result["per_second"] = result["requests"] / result["seconds"]
    return result


def row(name: str, result: dict[str, Any], bare: float = 0, joined: float = 0) -> str:
    """The figures; with `bare` (and `joined`), the rate as a share of theirs."""
    share = f"{100 * result['per_second'] / bare:5.1f} %" if bare else "       "
    if joined:
        share += f" ({100 * result['per_second'] / joined:5.1f} % of joined)"
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
    return (
        f"{name:<26} {result['per_second']:8.0f}/s {share}   p50 {result['p50_ms']:6.2f} ms"
        f"   p99 {result['p99_ms']:7.2f} ms   max {result['max_ms']:7.1f} ms   [{statuses}]"
        + (f"  errors {result['errors']}" if result["errors"] else "")
    )


# uvicorn with `agentops serve`'s protocol (app/http_protocol.py), which its command line
# cannot name
_JOINED = (
    "import sys, uvicorn; from app.http_protocol import JoinedWritesHttpTools;"
    " uvicorn.run(sys.argv[1], port=int(sys.argv[2]), access_log=False, loop='asyncio',"
    " http=JoinedWritesHttpTools, log_level='warning')"
)


def start_bare(
    work: Path, http: str, app: str = "bench.bare_endpoint:app", env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A bare endpoint under uvicorn with the parser `http`, or with `joined`: httptools
    and answers written in one piece, as `agentops serve` writes them."""
    port = free_port()
    name = app.split(":")[0].rsplit(".", 1)[-1] + ("-joined" if http == "joined" else "")
    if http == "joined":
        command = [sys.executable, "-c", _JOINED, app, str(port)]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--no-access-log"]
        # as `agentops serve` (app/cli/service.py)
        command += ["--loop", "asyncio", "--http", http, "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=(work / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.post(f"{url}/webhooks/github", content=b"{}").status_code == 202
        except httpx.HTTPError:
            return False

    wait_for(up, 20, what=name)
    return process, url


async def stored(url: str, redis_url: str, queue: str) -> tuple[int, int]:
    """Runs stored, and their jobs in Redis."""
    from redis.asyncio import Redis

    conn = await asyncpg.connect(url)
    try:
        runs = await conn.fetchval("SELECT count(*) FROM runs")
    finally:
        await conn.close()
    redis = Redis.from_url(redis_url)
    try:
        jobs = await redis.zcard(queue)
    finally:
        await redis.aclose()
    return int(runs), int(jobs)


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median rate (its latencies with it); statuses over all rounds."""
    ranked = sorted(results, key=lambda r: r["per_second"])
    chosen = dict(ranked[len(ranked) // 2])
    statuses: dict[str, int] = {}
    for result in results:
        for status, n in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    chosen["statuses"] = statuses
    chosen["wrapped"] = sum(r["wrapped"] for r in results)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="of each closed-loop run")
    parser.add_argument("--rounds", type=int, default=3, help="bare, ignored, accepted in turn")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--paced-seconds", type=int, default=10)
    parser.add_argument("--distinct", type=int, default=15_000, help="deliveries per round")
    parser.add_argument(
        "--h11", action="store_true", help="h11 on both sides (the service and the bare ones)"
    )
    args = parser.parse_args()
    http = "h11" if args.h11 else "httptools"
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="agentops-throughput-"))
    ignored_file, probe_file, paced_file = (work / f"{n}.txt" for n in ("i", "probe", "p"))
    accepted_files = [work / f"a{n}.txt" for n in range(args.rounds)]
    for n, path in enumerate(accepted_files):
        write_requests(path, args.distinct, "/agentops help", 10_000_000 * (n + 1))
    write_requests(ignored_file, args.distinct, "thanks!", 900_000_000)
    write_requests(probe_file, args.rate * 3 + 500, "/agentops help", 910_000_000)
    paced_count = args.rate * (args.paced_seconds + 5) + 1000
    write_requests(paced_file, paced_count, "/agentops help", 920_000_000)

    bare, bare_url = start_bare(work, http)
    bare_hook = f"{bare_url}/webhooks/github"
    joined: subprocess.Popen[bytes] | None = None
    joined_hook: str | None = None
    if not args.h11:
        joined, joined_url = start_bare(work, "joined")
        joined_hook = f"{joined_url}/webhooks/github"
    floor: subprocess.Popen[bytes] | None = None
    bare_runs: list[dict[str, Any]] = []
    joined_runs: list[dict[str, Any]] = []
    ignored_runs: list[dict[str, Any]] = []
    accepted_runs: list[dict[str, Any]] = []
    try:
        with intake_service(work, http) as intake:
            floor, floor_url = start_bare(
                work,
                "h11" if args.h11 else "joined",
                "bench.floor_endpoint:app",
                {"FLOOR_DATABASE_URL": intake.database_url},
            )
            floor_hook = f"{floor_url}/webhooks/github"
            hook = intake.hook
            wrk(bare_hook, ignored_file, 2, args.connections)  # warm-ups
            wrk(hook, ignored_file, 2, args.connections)
            if joined_hook:
                wrk(joined_hook, ignored_file, 2, args.connections)
            for accepted_file in accepted_files:  # in turn, so all see the same machine
                bare_runs.append(wrk(bare_hook, ignored_file, args.seconds, args.connections))
                if joined_hook:
                    joined_runs.append(
                        wrk(joined_hook, ignored_file, args.seconds, args.connections)
                    )
                ignored_runs.append(wrk(hook, ignored_file, args.seconds, args.connections))
                accepted_runs.append(wrk(hook, accepted_file, args.seconds, args.connections))
            time.sleep(1)
            probe = wrk(hook, probe_file, 3, PACED_CONNECTIONS, rate=args.rate)
            paced = wrk(
                hook, paced_file, args.paced_seconds, PACED_CONNECTIONS, args.rate, probe["mean_ms"]
            )
            time.sleep(1)
            floor_probe = wrk(floor_hook, probe_file, 3, PACED_CONNECTIONS, rate=args.rate)
            floor_paced = wrk(
                floor_hook,
                paced_file,
                args.paced_seconds,
                PACED_CONNECTIONS,
                args.rate,
                floor_probe["mean_ms"],
            )
            time.sleep(1)  # answers come before the enqueue: let the last ones reach Redis
            runs, jobs = asyncio.run(stored(intake.database_url, intake.redis.url, intake.queue))
    finally:
        for process in (floor, joined, bare):
            if process is not None:
                process.terminate()
                process.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    bare_result, ignored, accepted = map(median_of, (bare_runs, ignored_runs, accepted_runs))
    bare_rate = bare_result["per_second"]
    print(
        f"wrk -t1 -c{args.connections}, {args.rounds} rounds of {args.seconds} s in turn"
        f" (the median round); paced: -c{PACED_CONNECTIONS} at {args.rate}/s"
        f" for {args.paced_seconds} s; HTTP parser {http} on both sides"
    )
    print(row("bare Starlette endpoint", bare_result))
    joined_rate = 0.0
    if joined_runs:
        joined_result = median_of(joined_runs)
        joined_rate = joined_result["per_second"]
        print(row("bare, joined writes", joined_result, bare_rate))
    print(row("ignored comment", ignored, bare_rate, joined_rate))
    print(row("accepted command", accepted, bare_rate, joined_rate))
    print(row(f"accepted at {args.rate}/s", paced))
    print(row(f"floor at {args.rate}/s", floor_paced))
    for name, results in (
        ("bare", bare_runs),
        ("bare, joined writes", joined_runs),
        ("ignored", ignored_runs),
        ("accepted", accepted_runs),
    ):
        if results:
            print(f"  {name} per round: " + ", ".join(f"{r['per_second']:.0f}/s" for r in results))
    answered_202 = sum(r["statuses"].get("202", 0) for r in (*accepted_runs, probe, paced))
    print(f"202 answers {answered_202}; runs stored {runs}; jobs in Redis {jobs}")
    if accepted["wrapped"] or paced["wrapped"]:
        print("warning: ran out of distinct deliveries (raise --distinct)")
    # wrk stops with requests in flight: those may be stored without an answer counted
    if not (answered_202 <= runs and runs == jobs):
        sys.exit("a 202 without its stored run, or a stored run without its job")


if __name__ == "__main__":
    main()
