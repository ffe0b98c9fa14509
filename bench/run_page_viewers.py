"""Many live viewers of one run on one web process (issue 15 §3).

Makes a database of its own (`agentops migrate`), starts `agentops serve`, files one
running run, opens `--viewers` concurrent Server-Sent Event streams of it
(`GET /runs/{id}/events`, as the operator's bearer), then appends `--events` events the
way the worker does (a tenant transaction, NOTIFY at commit), one every `--interval` s.
For every event and viewer it records the time from the start of the append to the
viewer's receipt; prints p50/p99/max over all receipts, and over each event's last
viewer, checks that every viewer got every event once and in order, and prints the web
process's resident memory (VmRSS) before the viewers, with them, and its peak (VmHWM).

    PYTHONPATH=. .venv/bin/python bench/run_page_viewers.py [--viewers 200] [--events 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from app.store import connect
from app.store import run_events as event_store
from app.store import tenants as tenant_store

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "bench-admin-token-0123456789abcdef"


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def file_run(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tenant = await tenant_store.upsert_tenant(conn, "github", f"bench-{uuid.uuid4()}", "bench")
        run_id = await conn.fetchval(
            "INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command,"
            " requested_by, trigger, trigger_key, status, started_at)"
            " VALUES ($1, 'github', 'bench/repo', 'issue', 1, 'implement', 'bench',"
            " 'comment', $2, 'running', now()) RETURNING id",
            tenant,
            f"bench:{uuid.uuid4()}",
        )
        return int(tenant), int(run_id)
    finally:
        await conn.close()


async def viewer(
    client: httpx.AsyncClient,
    url: str,
    received: dict[int, float],
    order: list[int],
    ready: asyncio.Event,
    ready_count: list[int],
    total: int,
) -> None:
    async with client.stream("GET", url, headers={"Authorization": f"Bearer {ADMIN}"}) as answer:
        answer.raise_for_status()
        async for line in answer.aiter_lines():
            if line.startswith("retry:"):
                ready_count[0] += 1
                if ready_count[0] == total:
                    ready.set()
            elif line.startswith("id: "):
                seq = int(line[4:])
                received.setdefault(seq, time.time())
                order.append(seq)
            elif line == "event: end":
                return


def start_web(port: int, dsn: str) -> subprocess.Popen[bytes]:
    """`agentops migrate` on a database of its own, then `agentops serve`."""
    env = {
        **os.environ,
        "AGENTOPS_DATABASE_URL": dsn,
        "AGENTOPS_ADMIN_TOKEN": ADMIN,
        "AGENTOPS_LOG_LEVEL": "WARNING",
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, capture_output=True
    )
    if migrated.returncode != 0:
        raise SystemExit(migrated.stderr.decode()[-2000:])
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_until_up(base: str, web: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Until the web process answers `/healthz` (it starts slowly on a busy machine)."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5) as probe:
        while True:
            try:
                if (await probe.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if web.poll() is not None:
                raise SystemExit(f"the web process exited ({web.returncode}) before it answered")
            if time.monotonic() > deadline:
                raise SystemExit(f"the web process did not answer {base}/healthz in {seconds} s")
            await asyncio.sleep(0.2)


async def all_connected(
    ready: asyncio.Event, tasks: list[asyncio.Task[None]], count: list[int], seconds: float
) -> None:
    """Until every viewer has its stream open; at once, with the reason, if one fails."""
    waiting = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait(
        {waiting, *tasks}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
    )
    if waiting in done:
        return
    waiting.cancel()
    failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
    for task in tasks:
        task.cancel()
    why = f"; the first failure: {failed[0]!r}" if failed else ""
    raise SystemExit(f"{count[0]} of {len(tasks)} viewers connected in {seconds} s{why}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench(
    viewers: int, events: int, interval: float, port: int, dsn: str, web: subprocess.Popen[bytes]
) -> None:
    tenant, run_id = await file_run(dsn)
    base = f"http://127.0.0.1:{port}"
    db = await connect(dsn, max_size=2)
    try:
        await wait_until_up(base, web)
        idle = memory_mb(web.pid, "VmRSS")
        limits = httpx.Limits(max_connections=viewers + 10, max_keepalive_connections=0)
        received: list[dict[int, float]] = [{} for _ in range(viewers)]
        orders: list[list[int]] = [[] for _ in range(viewers)]
        ready, count = asyncio.Event(), [0]
        async with httpx.AsyncClient(timeout=None, limits=limits) as client:
            url = f"{base}/runs/{run_id}/events"
            tasks = [
                asyncio.create_task(
                    viewer(client, url, received[i], orders[i], ready, count, viewers)
                )
                for i in range(viewers)
            ]
            await all_connected(ready, tasks, count, 60)
            await asyncio.sleep(0.5)
            with_viewers = memory_mb(web.pid, "VmRSS")
            started: dict[int, float] = {}
            for n in range(events):
                kind = "run_ended" if n == events - 1 else "tool_call"
                payload = {"tool": "read_file", "result": "x" * 400, "n": n}
                at = time.time()
                async with db.tenant(tenant) as tc:
                    seq = await event_store.append_event(tc, run_id, kind, "implement", payload)
                started[seq] = at
                await asyncio.sleep(interval)
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        peak = memory_mb(web.pid, "VmHWM")
    finally:
        await db.close()
    every = [got[s] - started[s] for got in received for s in started if s in got]
    last = [max(got[s] for got in received) - started[s] for s in started]
    complete = all(order == sorted(started) for order in orders)
    ms = 1000.0
    print(f"{viewers} viewers of run {run_id}, {events} events one every {interval * ms:.0f} ms")
    print(f"every viewer got every event once, in order: {complete}")
    print(
        f"insert → a viewer: p50 {statistics.median(every) * ms:.1f} ms, "
        f"p99 {percentile(every, 99) * ms:.1f} ms, max {max(every) * ms:.1f} ms "
        f"({len(every)} receipts)"
    )
    print(
        f"insert → the last of {viewers} viewers: p50 {statistics.median(last) * ms:.1f} ms, "
        f"p99 {percentile(last, 99) * ms:.1f} ms, max {max(last) * ms:.1f} ms"
    )
    print(
        f"web process resident memory: {idle:.0f} MB idle, {with_viewers:.0f} MB with "
        f"{viewers} viewers, peak {peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument(
        "--port", type=int, default=0, help="the web process's (default: a free one)"
    )
    parser.add_argument(
        "--database-url",
        default=f"postgresql://postgres@127.0.0.1:5432/agentops_bench_viewers_{os.getpid()}",
        help="a database of its own (created and migrated; dropped after)",
    )
    args = parser.parse_args()
    args.port = args.port or free_port()
    web = start_web(args.port, args.database_url)
    try:
        asyncio.run(
            bench(args.viewers, args.events, args.interval, args.port, args.database_url, web)
        )
    finally:
        web.terminate()
        web.wait(10)
        asyncio.run(_drop(args.database_url))


async def _drop(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
