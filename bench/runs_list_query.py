"""The runs list's query (`app/store/readers.py`) on a large `runs` table.

Makes a database of its own (`--dsn`, dropped and made again unless `--keep`), applies
the migrations, files `--runs` GitHub runs over 40 installations of 25 repositories each
(the repository's id in each run's context, as the intake keeps it), and times the list
a signed-in person asks for (`list_readable_runs`'s query, 51 rows, newest first) for
two scopes: 3 installations × 5 repositories, and one repository of one installation
(its runs are 1 in 1,000, so the newest 51 are far apart). Prints the median and p90 of
`--repeat` calls, and the time the migrations took on the filled table when run again.

    PYTHONPATH=. .venv/bin/python bench/runs_list_query.py [--runs 200000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store import readers
from app.store.migrations import apply_migrations, ensure_database

TENANTS, REPOS = 40, 25


async def fill(conn: asyncpg.Connection, runs: int) -> list[int]:
    tenants = [
        await conn.fetchval(
            "INSERT INTO tenants (forge, external_key, account) VALUES ('github', $1, $2)"
            " RETURNING id",
            str(1000 + i),
            f"org{i}",
        )
        for i in range(TENANTS)
    ]
    rows = []
    for k in range(runs):
        t, r = k % TENANTS, (k // TENANTS) % REPOS
        context = json.dumps({"installation_id": 1000 + t, "repo_id": t * 100 + r})
        rows.append(
            (tenants[t], "github", f"org{t}/repo{r}", "issue", 1, "plan", "", "carol",
             "comment", f"github:comment:{k}", context)
        )  # fmt: skip
    columns = ["tenant_id", "forge", "repo", "target_kind", "target_number", "command", "args",
               "requested_by", "trigger", "trigger_key", "context"]  # fmt: skip
    await conn.copy_records_to_table("runs", records=rows, columns=columns)
    await conn.execute("ANALYZE runs")
    return tenants


async def timed(conn: asyncpg.Connection, repeat: int, **scope: Any) -> tuple[float, float, int]:
    if "repo_ids" not in inspect.signature(readers._list).parameters:  # before ids were kept
        scope.pop("repo_ids")
    args = (conn, 51, None, None, None, *scope.values())
    await readers._list(*args)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = await readers._list(*args)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times), times[int(0.9 * len(times))], len(found)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/agentops_bench_list")
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="reuse the database if it is there")
    args = parser.parse_args()
    name = args.dsn.rsplit("/", 1)[1]
    if not args.keep:
        admin = await asyncpg.connect(args.dsn.rsplit("/", 1)[0] + "/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()
    await ensure_database(args.dsn)
    await apply_migrations(args.dsn)
    conn = await asyncpg.connect(args.dsn)
    try:
        if await conn.fetchval("SELECT count(*) FROM runs") < args.runs:
            await fill(conn, args.runs)
        tenants = [r["id"] for r in await conn.fetch("SELECT id FROM tenants ORDER BY id")]
        scopes = {
            "3 installations × 5 repositories": ([0, 1, 2], range(5)),
            "1 repository": ([7], [3]),
        }
        print(f"{await conn.fetchval('SELECT count(*) FROM runs')} runs")
        for label, (ts, rs) in scopes.items():
            pairs = [(tenants[t], f"org{t}/repo{r}") for t in ts for r in rs]
            ids = {(tenants[t], f"org{t}/repo{r}"): t * 100 + r for t in ts for r in rs}
            median, p90, found = await timed(conn, args.repeat, repos=pairs, repo_ids=ids)
            print(f"{label}: median {1000 * median:.2f} ms, p90 {1000 * p90:.2f} ms, {found} rows")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
