"""PostgreSQL's CPU per accepted delivery of the intake's statement, without the web process.

    .venv/bin/python bench/accept_statement.py [--count 10000] [--batch 1 20] [--rounds 3]

A new, migrated database and one tenant; then `agentops_accept_runs` (what the intake's
batcher sends, app/store/accept_batch.py) stores `count` distinct deliveries, `batch` at a
time, on one tenant connection, and the CPU time of that connection's backend
(`/proc/PID/stat`: PostgreSQL must run on this machine) is divided by `count`. Each batch
is checked (every delivery a new run), and a batch sent again must answer "duplicate
delivery" for each. This is the statement's own cost: the service's batches, the enqueue
marks and the round trips are `bench/intake_cpu.py`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from app.store.db import Database, connect  # noqa: E402
from app.store.migrations import apply_migrations, ensure_database  # noqa: E402
from tests.conftest import PG_BASE, drop_database  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
STATEMENT = (
    "SELECT run_id, created, reason FROM agentops_accept_runs($1, $2, $3, $4, $5, $6, $7, $8,"
    " $9, $10, $11, $12, $13, $14, $15::text[]::jsonb[], $16)"
)
CONTEXT = json.dumps({"installation_id": 1, "repo_id": 2, "unknown_command": None})


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def store(conn: Any, tenant: int, proof: str, first: int, count: int) -> list[Any]:
    numbers = range(first, first + count)
    rows: list[Any] = await conn.fetch(
        STATEMENT,
        [tenant] * count,
        [proof] * count,
        ["github"] * count,
        [f"delivery-{n}" for n in numbers],
        ["issue_comment"] * count,
        ["acme/app"] * count,
        ["issue"] * count,
        [1 + n % 500 for n in numbers],
        ["help"] * count,
        [""] * count,
        ["alice"] * count,
        ["comment"] * count,
        [f"github:comment:{n}" for n in numbers],
        list(numbers),
        [CONTEXT] * count,
        [None] * count,
    )
    return rows


async def measure(db: Database, tenant: int, first: int, count: int, batch: int) -> float:
    proof = await db.proof_of(tenant)
    async with db.tenant_pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        await store(conn, tenant, proof, first, batch)  # plans made, caches warm
        first += batch
        before = backend_cpu_seconds(pid)
        for start in range(first, first + count, batch):
            rows = await store(conn, tenant, proof, start, batch)
            if not all(row["created"] for row in rows):
                raise SystemExit(f"a new delivery was not accepted: {rows[0]}")
        spent = backend_cpu_seconds(pid) - before
        again = await store(conn, tenant, proof, first, batch)
        if {row["reason"] for row in again} != {"duplicate delivery"}:
            raise SystemExit(f"a delivery sent again was not a duplicate: {again[0]}")
    return 1e6 * spent / count


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name = f"agentops_bench_{uuid.uuid4().hex[:8]}"
    url = f"{PG_BASE}/{name}"
    await ensure_database(url)
    try:
        await apply_migrations(url)
        db = await connect(url)
        try:
            async with db.admin() as conn:
                tenant = await conn.fetchval(
                    "INSERT INTO tenants (forge, external_key) VALUES ('github', '1') RETURNING id"
                )
            first = 0
            print(f"{args.count} deliveries per round, {args.rounds} rounds; median (range)")
            for batch in args.batch:
                figures = []
                for _ in range(args.rounds):
                    figures.append(await measure(db, tenant, first, args.count, batch))
                    first += args.count + 2 * batch
                print(
                    f"batch {batch:3d}: PostgreSQL CPU per accepted delivery "
                    f"{statistics.median(figures):5.0f} µs ({min(figures):.0f}–{max(figures):.0f})"
                )
        finally:
            await db.close()
    finally:
        await drop_database(name)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except asyncpg.PostgresError as exc:
        raise SystemExit(f"PostgreSQL refused: {exc}") from None
