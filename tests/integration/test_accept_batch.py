"""The intake's batches on a real PostgreSQL: deliveries arriving together are stored
together, each under its own tenant, with the answers a delivery alone would get."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest

from app.store import Database
from app.store.accept_batch import AcceptBatcher
from tests.integration.test_store import _key, new_tenant, request


async def test_a_burst_is_stored_with_the_answers_each_delivery_would_get(db: Database) -> None:
    tenants = [await new_tenant(db) for _ in range(3)]
    batcher = AcceptBatcher(db, max_batch=16)
    firsts = [(tenants[n % 3], request(), _key()) for n in range(60)]
    again = firsts[:10]  # the same deliveries once more
    resent = [(t, r, _key()) for t, r, _ in firsts[10:20]]  # same commands, new ids
    answers = await asyncio.gather(
        *(batcher.accept(t, r, d, "issue_comment") for t, r, d in [*firsts, *again, *resent])
    )
    # batches run side by side, so either of two copies may be the one stored
    for n in range(20):
        first, copy = answers[n], answers[60 + n]
        kind = "duplicate delivery" if n < 10 else "duplicate command"
        assert sorted([(first.created, first.reason), (copy.created, copy.reason)]) == [
            (False, kind),
            (True, "accepted"),
        ]
        assert first.run_id == copy.run_id
    assert [(a.created, a.reason) for a in answers[20:60]] == [(True, "accepted")] * 40
    created = answers[:60]
    assert len({a.run_id for a in created}) == 60
    async with db.admin() as conn:
        rows = await conn.fetch(
            "SELECT r.id, r.tenant_id, d.tenant_id AS delivery_tenant, d.delivery_id"
            " FROM runs r JOIN deliveries d ON d.run_id = r.id WHERE r.id = ANY($1)",
            [a.run_id for a in created],
        )
    for (tenant, _, _), answer in zip(firsts, created, strict=True):
        stored = [r for r in rows if r["id"] == answer.run_id]
        assert stored and all(
            (r["tenant_id"], r["delivery_tenant"]) == (tenant, tenant) for r in stored
        )


async def test_one_unstorable_delivery_fails_alone(db: Database) -> None:
    tenant = await new_tenant(db)
    batcher = AcceptBatcher(db, max_batch=50)
    good = [(request(), _key()) for _ in range(20)]
    bad = dataclasses.replace(request(), repo="octo/\x00widgets")  # PostgreSQL stores no NUL
    results = await asyncio.gather(
        *(batcher.accept(tenant, r, d, "issue_comment") for r, d in good[:10]),
        batcher.accept(tenant, bad, _key(), "issue_comment"),
        *(batcher.accept(tenant, r, d, "issue_comment") for r, d in good[10:]),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], asyncpg.DataError | ValueError)
    assert isinstance(results[10], BaseException)
    async with db.admin() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", tenant)
    assert stored == 20


async def test_a_batch_with_one_forged_tenant_stores_nothing(db: Database) -> None:
    """The batch statement proves each delivery's tenant: my proof with their id fails it."""
    mine, theirs = await new_tenant(db), await new_tenant(db)
    proof = await db.proof_of(mine)
    args = [
        [mine, theirs],
        [proof, proof],
        ["github", "github"],
        [_key(), _key()],
        ["issue_comment"] * 2,
        ["octo/widgets"] * 2,
        ["issue"] * 2,
        [7, 7],
        ["help"] * 2,
        ["", ""],
        ["mallory"] * 2,
        ["comment"] * 2,
        [f"github:comment:{_key()}", f"github:comment:{_key()}"],
        [1, 2],
        ["{}", "{}"],
        [None, None],
    ]
    async with db.tenant_pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch(
                "SELECT * FROM agentops_accept_runs($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                " $11, $12, $13, $14, $15::text[]::jsonb[], $16)",
                *args,
            )
    async with db.admin() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE tenant_id = ANY($1)", [mine, theirs]
        )
    assert stored == 0


async def test_deliveries_answered_while_the_database_stalls_are_not_stored_later(
    db: Database, database_url: str
) -> None:
    """A 503 says "not stored": only the batch already being written when the database
    stalled may be stored after its answer (its resend is then a duplicate)."""
    tenant = await new_tenant(db)
    batcher = AcceptBatcher(db, in_flight=1)
    locker = await asyncpg.connect(database_url)
    try:
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        waiting = [
            asyncio.wait_for(batcher.accept(tenant, request(), _key(), "issue_comment"), 0.5)
            for _ in range(10)
        ]
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(a, TimeoutError) for a in answers)
        await lock.rollback()
    finally:
        await locker.close()
    await asyncio.sleep(0.5)  # the batch that was being written ends
    async with db.admin() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", tenant)
    assert stored == 1  # the first delivery's batch of one; the nine that waited: none
