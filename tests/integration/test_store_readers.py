"""The runs list of a signed-in person: a reader transaction sees the runs of the tenants
it was opened for and no other, whatever its filters say, and writes nothing."""

from __future__ import annotations

import dataclasses

import asyncpg
import pytest

from app.store import Database
from app.store.db import reader_proof
from app.store.readers import get_readable_run, list_readable_runs
from tests.integration.test_store import new_tenant, record, request


async def two_tenants(db: Database) -> tuple[int, int, int, int]:
    a, b = await new_tenant(db), await new_tenant(db)
    run_a = (await record(db, a, dataclasses.replace(request(), repo="acme/app"))).run_id
    run_b = (await record(db, b, dataclasses.replace(request(), repo="beta/secret"))).run_id
    return a, b, run_a, run_b


async def test_a_person_of_a_sees_a_and_never_b_even_with_a_crafted_filter(db: Database) -> None:
    a, b, run_a, run_b = await two_tenants(db)
    async with db.readers([a]) as rc:
        listed = {r.id for r in await list_readable_runs(rc, 500)}
        by_repo = await list_readable_runs(rc, 500, repo="beta/secret")
        by_pair = await list_readable_runs(rc, 500, repos=[(b, "beta/secret")])
        direct = await get_readable_run(rc, run_b)
        raw = await rc.conn.fetch("SELECT id FROM runs WHERE tenant_id = $1", b)
        tenants = {r["id"] for r in await rc.conn.fetch("SELECT id FROM tenants")}
    assert run_a in listed and run_b not in listed
    assert by_repo == [] and by_pair == [] and direct is None and raw == []
    assert tenants == {a}


async def test_two_workspaces_and_the_repositories_inside_them(db: Database) -> None:
    a, b, run_a, run_b = await two_tenants(db)
    async with db.readers([b, a]) as rc:
        both = {r.id for r in await list_readable_runs(rc, 500)}
        only_app = {r.id for r in await list_readable_runs(rc, 500, repos=[(a, "acme/app")])}
        wrong_pair = await list_readable_runs(rc, 500, repos=[(a, "beta/secret")])
    assert {run_a, run_b} <= both
    assert run_a in only_app and run_b not in only_app and wrong_pair == []


async def test_a_repository_known_by_its_id_keeps_its_runs_through_a_rename(
    db: Database,
) -> None:
    """acme/vault (id 10) is renamed acme/vault-archive, and a new acme/vault (id 20) takes
    the name: each lists its own runs, whatever name they were filed under; a run that kept
    no id (filed before ids were kept) goes by its name."""
    a = await new_tenant(db)

    async def filed(repo: str, repo_id: int | None) -> int:
        context = {"installation_id": 1} | ({"repo_id": repo_id} if repo_id else {})
        made = dataclasses.replace(request(), repo=repo, context=context)
        return (await record(db, a, made)).run_id

    old_named, no_id = await filed("acme/vault", 10), await filed("acme/vault", None)
    renamed, new = await filed("acme/vault-archive", 10), await filed("acme/vault", 20)
    async with db.readers([a]) as rc:
        archive = await list_readable_runs(
            rc, 500, repos=[(a, "acme/vault-archive")], repo_ids={(a, "acme/vault-archive"): 10}
        )
        vault = await list_readable_runs(
            rc, 500, repos=[(a, "acme/vault")], repo_ids={(a, "acme/vault"): 20}
        )
        by_name = await list_readable_runs(rc, 500, repos=[(a, "acme/vault")])
    assert [r.id for r in archive] == [renamed, old_named]
    assert [r.id for r in vault] == [new, no_id]
    assert [r.id for r in by_name] == [new, no_id, old_named]  # no id known: names, as before


async def test_no_workspace_sees_nothing(db: Database) -> None:
    await two_tenants(db)
    async with db.readers([]) as rc:
        assert await list_readable_runs(rc, 500) == []


async def test_a_reader_naming_other_tenants_without_the_proof_sees_nothing(db: Database) -> None:
    a, b, _, run_b = await two_tenants(db)
    async with db.readers([a]) as rc:
        await rc.conn.execute(f"SELECT set_config('app.reader_tenants', '{a},{b}', true)")
        seen = await rc.conn.fetch("SELECT id FROM runs WHERE id = $1", run_b)
        await rc.conn.execute(f"SELECT set_config('app.tenant_id', '{b}', true)")
        seen += await rc.conn.fetch("SELECT id FROM runs WHERE id = $1", run_b)
    assert seen == []


async def test_a_reader_writes_nothing(db: Database) -> None:
    a, _, run_a, _ = await two_tenants(db)
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with db.readers([a]) as rc:
            await rc.conn.execute("UPDATE runs SET status = 'cancelled' WHERE id = $1", run_a)
    # and in a read-write transaction with the reader's proof, the policies alone refuse:
    # the reader policy gives SELECT only
    proof = reader_proof(await db._tenant_scope_key(), str(a))
    async with db.tenant_pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT set_config('app.reader_tenants', $1, true),"
            " set_config('app.reader_proof', $2, true)",
            str(a),
            proof,
        )
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE id = $1", run_a) == 1
        changed = await conn.execute("UPDATE runs SET status = 'cancelled' WHERE id = $1", run_a)
        deleted = await conn.execute("DELETE FROM run_steps WHERE run_id = $1", run_a)
    assert (changed, deleted) == ("UPDATE 0", "DELETE 0")
