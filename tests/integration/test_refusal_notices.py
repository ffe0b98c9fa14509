"""Counting refusals per person and repository on a real PostgreSQL: shared by every
worker (concurrent refusals get distinct ranks), stable when a step is tried again, and
kept within the tenant."""

from __future__ import annotations

import asyncio

from app.store import Database
from app.store.refusal_notices import record_refusal
from tests.integration.test_store import new_tenant, record, request

HOUR = 3600.0


async def new_runs(db: Database, tenant_id: int, count: int) -> list[int]:
    return [(await record(db, tenant_id, request())).run_id for _ in range(count)]


async def refuse(db: Database, tenant_id: int, run_id: int, repo: str, person: str) -> int:
    async with db.tenant(tenant_id) as tc:
        return await record_refusal(tc, run_id, repo, person, HOUR)


async def test_concurrent_refusals_of_one_person_get_distinct_ranks(db: Database) -> None:
    tenant = await new_tenant(db)
    runs = await new_runs(db, tenant, 8)
    ranks = await asyncio.gather(*(refuse(db, tenant, r, "octo/widgets", "mallory") for r in runs))
    assert sorted(ranks) == list(range(1, 9))
    # a step tried again keeps its rank; logins are case-insensitive
    assert await refuse(db, tenant, runs[0], "octo/widgets", "MALLORY") == ranks[0]


async def test_ranks_are_per_person_repository_and_tenant(db: Database) -> None:
    tenant, other_tenant = await new_tenant(db), await new_tenant(db)
    runs = await new_runs(db, tenant, 4)
    assert await refuse(db, tenant, runs[0], "octo/widgets", "mallory") == 1
    assert await refuse(db, tenant, runs[1], "octo/widgets", "mallory") == 2
    assert await refuse(db, tenant, runs[2], "octo/gadgets", "mallory") == 1
    assert await refuse(db, tenant, runs[3], "octo/widgets", "eve") == 1
    elsewhere = await new_runs(db, other_tenant, 1)
    assert await refuse(db, other_tenant, elsewhere[0], "octo/widgets", "mallory") == 1


async def test_refusals_older_than_the_window_no_longer_count(db: Database) -> None:
    tenant = await new_tenant(db)
    runs = await new_runs(db, tenant, 3)
    assert await refuse(db, tenant, runs[0], "octo/widgets", "mallory") == 1
    assert await refuse(db, tenant, runs[1], "octo/widgets", "mallory") == 2
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE refusal_notices SET at = at - interval '2 hours' WHERE run_id = ANY($1)",
            runs[:2],
        )
    assert await refuse(db, tenant, runs[2], "octo/widgets", "mallory") == 1
