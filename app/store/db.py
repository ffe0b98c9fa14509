"""Connection pools and tenant scoping.

Tenant-owned tables have row-level security forced on them. Tenant work runs on its own
pool, logged in as the `agentops_tenant` role, and sets `app.tenant_id`, so a query can
only see and write rows of that tenant, whatever its WHERE clause says. Because the
session itself is `agentops_tenant` (not the owner switched with `SET ROLE`), nothing
inside a tenant transaction can leave it: `RESET ROLE` returns to `agentops_tenant`, and
`SET ROLE <owner>` / `SET SESSION AUTHORIZATION` are refused, since the role is no member
of the owner and no superuser. Every new tenant connection checks that this holds.

`app.tenant_id` is a setting any session may change, so the policies admit a tenant only
when the transaction also carries `app.tenant_proof`, a hash of the tenant id keyed by a
secret only the owner can read (`agentops_scope_key`, checked by the SECURITY DEFINER
function `agentops_tenant_id()`): tenant work that names another tenant sees nothing.

Work that spans tenants (the intake's tenant lookup, the re-enqueue sweep, the admin API)
uses `admin()`, as the owner, and names itself as such.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from hashlib import sha256
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)
TENANT_ROLE = "agentops_tenant"

# What callers outside this package catch, so that they need not import asyncpg.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # e.g. a pool closing under a request at shutdown
)
# A value PostgreSQL (or the driver) will not store: a payload's fault, not the database's.
UNSTORABLE_VALUE_ERRORS: tuple[type[BaseException], ...] = (asyncpg.DataError, ValueError)


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached."""


class TenantRoleUnsafe(Exception):
    """The tenant login could become the owner (or bypass row-level security)."""


@dataclass
class TenantConnection:
    """A connection inside a transaction scoped to one tenant."""

    conn: asyncpg.Connection
    tenant_id: int


def tenant_dsn_for(owner_dsn: str) -> str:
    """The owner's URL with `agentops_tenant` as the user and no password: the default
    for `AGENTOPS_TENANT_DATABASE_URL` (trust or peer-less local authentication)."""
    parts = urlsplit(owner_dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{TENANT_ROLE}@{host}"))


def tenant_proof(scope_key: str, tenant_id: int) -> str:
    """What `agentops_tenant_id()` (migration 0008) accepts for `tenant_id`."""
    inner = sha256(f"{scope_key}:{tenant_id}".encode()).hexdigest()
    return sha256(f"{scope_key}{inner}".encode()).hexdigest()


def reader_tenants_text(tenant_ids: Iterable[int]) -> str:
    """The canonical text of a set of tenants: ascending ids, comma-separated."""
    return ",".join(str(t) for t in sorted({int(t) for t in tenant_ids}))


def reader_proof(scope_key: str, tenants_text: str) -> str:
    """What `agentops_reader_tenant_ids()` (migration 0014) accepts for `tenants_text`."""
    inner = sha256(f"{scope_key}:readers:{tenants_text}".encode()).hexdigest()
    return sha256(f"{scope_key}{inner}".encode()).hexdigest()


async def _check_tenant_session(conn: asyncpg.Connection) -> None:
    """Refuse a tenant connection whose login could leave row-level security."""
    row = await conn.fetchrow(
        """
        SELECT r.rolsuper OR r.rolbypassrls OR r.rolcreaterole AS privileged,
               coalesce(pg_has_role(session_user, c.relowner, 'MEMBER'), false) AS owner
        FROM pg_roles r
        LEFT JOIN pg_class c ON c.oid = to_regclass('runs')
        WHERE r.rolname = session_user
        """
    )
    if row is None or row["privileged"] or row["owner"]:
        user = await conn.fetchval("SELECT session_user")
        raise TenantRoleUnsafe(
            f"the tenant database login {user!r} is a superuser, may bypass row-level "
            "security or create roles, or is a member of the tables' owner: tenant work "
            f"must log in as {TENANT_ROLE} (AGENTOPS_TENANT_DATABASE_URL)"
        )


@dataclass
class ReaderConnection:
    """A read-only transaction in which row-level security admits the rows of
    `tenant_ids` (a person's workspaces), and no others."""

    conn: asyncpg.Connection
    tenant_ids: frozenset[int]


@dataclass
class TenantStatement:
    """A tenant connection outside any transaction, for one statement that scopes itself:
    a function given `tenant_id` and `proof` sets both for its own transaction (as
    `agentops_accept_run` does), so the work costs one round trip."""

    conn: asyncpg.Connection
    tenant_id: int
    proof: str


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The tenant pool's reset. Tenant scope lives in transaction-local settings only, and
    nothing sets session state on a tenant connection (no LISTEN, advisory lock, session
    SET or held cursor), so a release does not pay RESET ALL's round trip; asyncpg still
    rolls back a transaction left open first."""


class Database:
    def __init__(self, pool: asyncpg.Pool, tenant_pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.tenant_pool = tenant_pool
        self._scope_key: str | None = None

    @asynccontextmanager
    async def tenant(self, tenant_id: int) -> AsyncIterator[TenantConnection]:
        """One transaction in which row-level security admits only `tenant_id`."""
        proof = await self.proof_of(tenant_id)
        async with self.tenant_pool.acquire() as conn, conn.transaction():
            # parameters, not literals: other sessions' query texts are visible to the role
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true),"
                " set_config('app.tenant_proof', $2, true)",
                str(tenant_id),
                proof,
            )
            yield TenantConnection(conn, tenant_id)

    @asynccontextmanager
    async def readers(self, tenant_ids: Iterable[int]) -> AsyncIterator[ReaderConnection]:
        """One read-only transaction that sees the rows of `tenant_ids` only (none when
        empty): the runs of the workspaces a signed-in person can access."""
        ids = frozenset(int(t) for t in tenant_ids)
        text = reader_tenants_text(ids)
        proof = reader_proof(await self._tenant_scope_key(), text)
        async with self.tenant_pool.acquire() as conn, conn.transaction(readonly=True):
            await conn.execute(
                "SELECT set_config('app.reader_tenants', $1, true),"
                " set_config('app.reader_proof', $2, true)",
                text,
                proof,
            )
            yield ReaderConnection(conn, ids)

    @asynccontextmanager
    async def tenant_statement(self, tenant_id: int) -> AsyncIterator[TenantStatement]:
        proof = await self.proof_of(tenant_id)
        async with self.tenant_pool.acquire() as conn:
            yield TenantStatement(conn, tenant_id, proof)

    async def proof_of(self, tenant_id: int) -> str:
        """What admits tenant work for `tenant_id` (`app.tenant_proof`)."""
        return tenant_proof(await self._tenant_scope_key(), tenant_id)

    async def _tenant_scope_key(self) -> str:
        if self._scope_key is None:
            async with self.pool.acquire() as conn:
                self._scope_key = str(await conn.fetchval("SELECT key FROM agentops_scope_key"))
        return self._scope_key

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction as the owner, across tenants. Keep its uses few and named."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> bool:
        try:
            for pool in (self.pool, self.tenant_pool):
                async with pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1")
            return True
        except (OSError, asyncpg.PostgresError, TimeoutError, TenantRoleUnsafe):
            return False

    async def close(self) -> None:
        await self.pool.close()
        await self.tenant_pool.close()


async def connect(
    dsn: str, min_size: int = 1, max_size: int = 10, tenant_dsn: str | None = None
) -> Database:
    """Pools for the owner (`dsn`) and for tenant work (`tenant_dsn`, by default `dsn`
    with the `agentops_tenant` login)."""
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, timeout=5, command_timeout=30
        )
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseUnavailable(f"{exc}: `agentops migrate` creates it") from exc
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
    try:
        tenant_pool = await asyncpg.create_pool(
            tenant_dsn or tenant_dsn_for(dsn),
            min_size=min_size,
            max_size=max_size,
            timeout=5,
            command_timeout=30,
            init=_check_tenant_session,
            reset=_keep_session,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        await pool.close()
        raise DatabaseUnavailable(
            f"cannot log in to PostgreSQL as {TENANT_ROLE}: {exc} "
            "(`agentops migrate` lets the role log in)"
        ) from exc
    except TenantRoleUnsafe:
        await pool.close()
        raise
    return Database(pool, tenant_pool)


# PostgreSQL not there yet (down, restarting, recovering): worth waiting for. A refused
# login or a missing database is not, and is raised at once.
_NOT_UP_YET = (OSError, TimeoutError, asyncpg.CannotConnectNowError)


async def connect_when_up(
    dsn: str,
    min_size: int = 1,
    max_size: int = 10,
    tenant_dsn: str | None = None,
    max_wait: float = 10.0,
) -> Database:
    """`connect`, waiting (backoff up to `max_wait` s) while PostgreSQL is not up: a
    worker started before its database, or during a restart, waits instead of exiting.
    One log line when it starts waiting, one when the database answers."""
    wait, since = 0.5, None
    while True:
        try:
            database = await connect(dsn, min_size, max_size, tenant_dsn)
        except DatabaseUnavailable as exc:
            if not isinstance(exc.__cause__, _NOT_UP_YET):
                raise
            if since is None:
                since = time.monotonic()
                log.warning("%s: waiting for it (every %.0f s at most)", exc, max_wait)
            await asyncio.sleep(wait)
            wait = min(max_wait, wait * 2)
            continue
        if since is not None:
            log.warning("PostgreSQL is up after %.0f s", time.monotonic() - since)
        return database
