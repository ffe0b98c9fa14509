"""Connection pool and tenant scoping.

Tenant-owned tables have row-level security forced on them. A tenant transaction
switches to the `agentops_tenant` role and sets `app.tenant_id`, so a query can only see
and write rows of that tenant, whatever its WHERE clause says. Work that spans tenants
(the intake's tenant lookup, the re-enqueue sweep, the admin API) uses `admin()` and
names itself as such.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

TENANT_ROLE = "agentops_tenant"

# What callers outside this package catch, so that they need not import asyncpg.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
# A value PostgreSQL (or the driver) will not store: a payload's fault, not the database's.
UNSTORABLE_VALUE_ERRORS: tuple[type[BaseException], ...] = (asyncpg.DataError, ValueError)


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached."""


@dataclass
class TenantConnection:
    """A connection inside a transaction scoped to one tenant."""

    conn: asyncpg.Connection
    tenant_id: int


class Database:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def tenant(self, tenant_id: int) -> AsyncIterator[TenantConnection]:
        """One transaction in which row-level security admits only `tenant_id`."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL ROLE {TENANT_ROLE}")
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant_id))
            yield TenantConnection(conn, tenant_id)

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction as the owner, across tenants. Keep its uses few and named."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> bool:
        try:
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1")
            return True
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False

    async def close(self) -> None:
        await self.pool.close()


async def connect(dsn: str, min_size: int = 1, max_size: int = 10) -> Database:
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, timeout=5, command_timeout=30
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
    return Database(pool)
