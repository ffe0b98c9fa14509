"""The store run by a dedicated role that is not a superuser, as an operator should deploy it.

The session's `db` fixture connects as `postgres`, a superuser, which row-level security
never binds: these tests make a login role with only CREATEROLE, give it its own database,
migrate as that role, and check both sides of row-level security for it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from app.store import Database, connect
from app.store import runs as run_store
from app.store.migrations import apply_migrations
from tests.conftest import PG_BASE, drop_database
from tests.integration.test_store import new_tenant, record, request

ROLE_TABLES = (
    "runs",
    "deliveries",
    "run_steps",
    "llm_calls",
    "label_checks",
    "llm_reservations",
    "refusal_notices",
    "tenants",
    "run_events",
)


@asynccontextmanager
async def service_database() -> AsyncIterator[Database]:
    """A database owned, and migrated, by a fresh CREATEROLE-only login role."""
    role = f"agentops_svc_{uuid.uuid4().hex[:8]}"
    name = f"agentops_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{PG_BASE}/postgres")
    await admin.execute(f'CREATE ROLE "{role}" LOGIN CREATEROLE')
    await admin.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')
    url = PG_BASE.replace("://postgres@", f"://{role}@") + f"/{name}"
    try:
        await apply_migrations(url)
        database = await connect(url, min_size=1, max_size=2)
        try:
            yield database
        finally:
            await database.close()
    finally:
        await drop_database(name)
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE "{role}"')
        await admin.close()


@pytest.fixture
async def service_db() -> AsyncIterator[Database]:
    async with service_database() as database:
        yield database


async def test_the_role_is_no_superuser_and_bypasses_nothing(service_db: Database) -> None:
    async with service_db.admin() as conn:
        row = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
    assert (row["rolsuper"], row["rolbypassrls"]) == (False, False)


async def test_admin_work_sees_every_tenants_runs(service_db: Database) -> None:
    a = await new_tenant(service_db)
    b = await new_tenant(service_db)
    run_a = (await record(service_db, a, request())).run_id
    run_b = (await record(service_db, b, request())).run_id
    async with service_db.admin() as conn:
        listed = {run.id for run in await run_store.list_runs_all_tenants(conn, 10, None, None)}
        deliveries = await conn.fetchval("SELECT count(*) FROM deliveries")
        assert await run_store.run_tenant_all_tenants(conn, run_b) == b
    assert listed == {run_a, run_b}
    assert deliveries == 2


async def test_tenant_transactions_still_see_only_their_tenant(service_db: Database) -> None:
    a = await new_tenant(service_db)
    b = await new_tenant(service_db)
    run_a = (await record(service_db, a, request())).run_id
    await record(service_db, b, request())
    async with service_db.tenant(b) as tc:
        assert await run_store.get_run(tc, run_a) is None
        seen = {r["tenant_id"] for r in await tc.conn.fetch("SELECT tenant_id FROM runs")}
    assert seen == {b}


async def test_every_table_under_row_level_security_admits_the_service(
    service_db: Database,
) -> None:
    async with service_db.admin() as conn:
        forced = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relforcerowsecurity AND relkind = 'r'"
            )
        }
        admitted = {
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_policies WHERE policyname = 'service_owner'"
                " AND current_user::name = ANY(roles)"
            )
        }
    assert forced == set(ROLE_TABLES)
    assert admitted == forced
