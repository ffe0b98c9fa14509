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
    created, repeated, resent_answers = answers[:60], answers[60:70], answers[70:]
    assert all(a.created and a.reason == "accepted" for a in created)
    assert len({a.run_id for a in created}) == 60
    assert [(a.created, a.reason) for a in repeated] == [(False, "duplicate delivery")] * 10
    assert [a.run_id for a in repeated] == [a.run_id for a in created[:10]]
    assert [(a.created, a.reason) for a in resent_answers] == [(False, "duplicate command")] * 10
    assert [a.run_id for a in resent_answers] == [a.run_id for a in created[10:20]]
    async with db.admin() as conn:
        rows = await conn.fetch(
            "SELECT r.id, r.tenant_id, d.tenant_id AS delivery_tenant, d.delivery_id"
            " FROM runs r JOIN deliveries d ON d.run_id = r.id WHERE r.id = ANY($1)",
            [a.run_id for a in created],
        )
    by_run = {r["id"]: r for r in rows if r["delivery_id"] in {d for _, _, d in firsts}}
    for (tenant, _, delivery), answer in zip(firsts, created, strict=True):
        row = by_run[answer.run_id]
        assert (row["tenant_id"], row["delivery_tenant"], row["delivery_id"]) == (
            tenant,
            tenant,
            delivery,
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
    ]
    async with db.tenant_pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch(
                "SELECT * FROM agentops_accept_runs($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                " $11, $12, $13, $14, $15::text[]::jsonb[])",
                *args,
            )
    async with db.admin() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE tenant_id = ANY($1)", [mine, theirs]
        )
    assert stored == 0
