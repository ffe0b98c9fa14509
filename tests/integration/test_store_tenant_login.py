"""Tenant work cannot leave its tenant: it logs in as `agentops_tenant`, which cannot
become the owner again, and sees only its own row of `tenants`.

Each test runs twice: with the session's database (owned by `postgres`, a superuser, as
on a developer machine) and with a database owned by a CREATEROLE-only service role, as
an operator should deploy it.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.store import Database, connect
from app.store import runs as run_store
from app.store.db import TenantRoleUnsafe, tenant_dsn_for, tenant_proof
from app.store.migrations import (
    apply_migrations,
    ensure_database,
    password_in,
    scram_sha256_verifier,
    set_role_password,
)
from tests.conftest import PG_BASE, drop_database
from tests.integration.test_store import new_tenant, record, request
from tests.integration.test_store_service_role import service_database


@pytest.fixture(params=["superuser-owner", "service-role-owner"])
async def store(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[Database]:
    if request.param == "superuser-owner":
        yield db
    else:
        async with service_database() as database:
            yield database


async def owner_of(database: Database) -> str:
    async with database.admin() as conn:
        return str(await conn.fetchval("SELECT current_user"))


async def test_reset_role_stays_the_tenant_and_sees_no_other_tenant(store: Database) -> None:
    a = await new_tenant(store)
    b = await new_tenant(store)
    run_a = (await record(store, a, request())).run_id
    await record(store, b, request())
    async with store.tenant(b) as tc:
        await tc.conn.execute("RESET ROLE")
        who = await tc.conn.fetchval("SELECT current_user")
        seen = {r["tenant_id"] for r in await tc.conn.fetch("SELECT tenant_id FROM runs")}
        assert await run_store.get_run(tc, run_a) is None
    assert who == "agentops_tenant"
    assert seen == {b}


async def test_set_role_to_the_owner_is_refused(store: Database) -> None:
    tenant = await new_tenant(store)
    owner = await owner_of(store)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with store.tenant(tenant) as tc:
            await tc.conn.execute(f'SET ROLE "{owner}"')
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with store.tenant(tenant) as tc:
            await tc.conn.execute(f'SET SESSION AUTHORIZATION "{owner}"')


async def test_the_tenant_login_has_no_way_back_to_the_owner(store: Database) -> None:
    tenant = await new_tenant(store)
    owner = await owner_of(store)
    async with store.tenant(tenant) as tc:
        row = await tc.conn.fetchrow(
            "SELECT session_user::text AS login, rolsuper, rolbypassrls, rolcreaterole,"
            " pg_has_role(session_user, $1, 'MEMBER') AS member_of_owner"
            " FROM pg_roles WHERE rolname = session_user",
            owner,
        )
    assert dict(row) == {
        "login": "agentops_tenant",
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "member_of_owner": False,
    }


async def test_a_tenant_sees_only_its_own_row_of_tenants(store: Database) -> None:
    a = await new_tenant(store)
    b = await new_tenant(store)
    async with store.tenant(b) as tc:
        seen = [r["id"] for r in await tc.conn.fetch("SELECT id FROM tenants")]
        other = await tc.conn.fetchrow("SELECT * FROM tenants WHERE id = $1", a)
        await tc.conn.execute("RESET ROLE")
        after_reset = [r["id"] for r in await tc.conn.fetch("SELECT id FROM tenants")]
    assert seen == [b] and other is None and after_reset == [b]
    async with store.admin() as conn:  # the owner still sees every tenant
        assert {a, b} <= {r["id"] for r in await conn.fetch("SELECT id FROM tenants")}


async def test_changing_the_tenant_setting_back_to_none_sees_nothing(store: Database) -> None:
    a = await new_tenant(store)
    await record(store, a, request())
    async with store.tenant(a) as tc:
        await tc.conn.execute("RESET ALL")
        assert await tc.conn.fetchval("SELECT count(*) FROM runs") == 0
        assert await tc.conn.fetchval("SELECT count(*) FROM tenants") == 0


async def test_a_tenant_login_that_could_become_the_owner_is_refused(database_url: str) -> None:
    # The owner's own login given as the tenant login: row-level security would not bind.
    with pytest.raises(TenantRoleUnsafe, match="AGENTOPS_TENANT_DATABASE_URL"):
        await connect(database_url, min_size=1, max_size=1, tenant_dsn=database_url)


def test_the_default_tenant_login_is_the_owner_url_with_the_tenant_role() -> None:
    assert (
        tenant_dsn_for("postgresql://svc:pw@db.internal:5432/agentops?sslmode=require")
        == "postgresql://agentops_tenant@db.internal:5432/agentops?sslmode=require"
    )
    assert tenant_dsn_for("postgresql://127.0.0.1/agentops") == (
        "postgresql://agentops_tenant@127.0.0.1/agentops"
    )


async def test_naming_another_tenant_inside_tenant_work_sees_nothing(store: Database) -> None:
    a = await new_tenant(store)
    b = await new_tenant(store)
    run_a = (await record(store, a, request())).run_id
    async with store.tenant(b) as tc:
        await tc.conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(a))
        runs = await tc.conn.fetch("SELECT id FROM runs")
        tenants = await tc.conn.fetch("SELECT id FROM tenants")
        assert await run_store.get_run(tc, run_a) is None
    assert runs == [] and tenants == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with store.tenant(b) as tc:
            await tc.conn.fetch("SELECT key FROM agentops_scope_key")


async def test_a_tenants_proof_admits_only_that_tenant(store: Database) -> None:
    a = await new_tenant(store)
    b = await new_tenant(store)
    await record(store, a, request())
    async with store.tenant(a) as tc:
        proof_of_a = await tc.conn.fetchval("SELECT current_setting('app.tenant_proof')")
    async with store.tenant(b) as tc:
        # a proof seen once does not open another tenant's rows
        await tc.conn.execute("SELECT set_config('app.tenant_proof', $1, true)", proof_of_a)
        assert await tc.conn.fetchval("SELECT count(*) FROM runs") == 0


async def test_migrate_gives_a_login_the_password_of_its_url_as_a_verifier(
    database_url: str,
) -> None:
    role = f"agentops_pw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        password = password_in(f"postgresql://{role}:s3cret%21pw@127.0.0.1/x")
        assert password == "s3cret!pw"
        await set_role_password(database_url, role, password)
        stored = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
    finally:
        await admin.execute(f'DROP ROLE "{role}"')
        await admin.close()
    assert stored.startswith("SCRAM-SHA-256$4096:") and password not in stored
    salt = base64.b64decode(stored.split("$")[1].split(":")[1])
    assert stored == scram_sha256_verifier(password, salt)


async def test_two_databases_migrating_at_once_both_get_the_tenant_login() -> None:
    # roles are cluster-wide: two test sessions (or two deployments) migrate side by side
    urls = [f"{PG_BASE}/agentops_test_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        for url in urls:
            await ensure_database(url)
        await asyncio.gather(*(apply_migrations(url) for url in urls))
        for url in urls:
            database = await connect(url, min_size=1, max_size=1)
            try:
                tenant = await new_tenant(database)
                async with database.tenant(tenant) as tc:
                    assert await tc.conn.fetchval("SELECT session_user") == "agentops_tenant"
                    assert [r["id"] for r in await tc.conn.fetch("SELECT id FROM tenants")] == [
                        tenant
                    ]
            finally:
                await database.close()
    finally:
        for url in urls:
            await drop_database(url.rsplit("/", 1)[1])


async def test_a_key_of_its_own_does_not_let_tenant_work_forge_a_proof(store: Database) -> None:
    a = await new_tenant(store)
    b = await new_tenant(store)
    await record(store, a, request())
    async with store.tenant(b) as tc:
        await tc.conn.execute("CREATE TEMP TABLE agentops_scope_key (key text)")
        await tc.conn.execute("INSERT INTO agentops_scope_key VALUES ('chosen')")
        await tc.conn.execute(
            "SELECT set_config('app.tenant_id', $1, true),"
            " set_config('app.tenant_proof', $2, true)",
            str(a),
            tenant_proof("chosen", a),
        )
        assert await tc.conn.fetchval("SELECT count(*) FROM runs") == 0
        assert await tc.conn.fetchval("SELECT count(*) FROM tenants") == 0
