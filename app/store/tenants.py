"""Tenants: GitHub App installations and GitLab projects. Not tenant-scoped itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class Tenant:
    id: int
    forge: str
    external_key: str
    account: str
    suspended_at: datetime | None
    removed_at: datetime | None

    @property
    def active(self) -> bool:
        return self.suspended_at is None and self.removed_at is None


async def upsert_tenant(
    conn: asyncpg.Connection, forge: str, external_key: str, account: str = ""
) -> int:
    """The tenant's id, creating the row on first sight. A tenant already known as it is
    costs one read and no write (every delivery asks)."""
    known = await conn.fetchval(
        "SELECT id FROM tenants WHERE forge = $1 AND external_key = $2"
        " AND (account = $3 OR $3 = '')",
        forge,
        external_key,
        account,
    )
    if known is not None:
        return int(known)
    tenant_id = await conn.fetchval(
        """
        INSERT INTO tenants (forge, external_key, account) VALUES ($1, $2, $3)
        ON CONFLICT (forge, external_key) DO UPDATE
            SET account = CASE WHEN excluded.account = '' THEN tenants.account
                               ELSE excluded.account END
        RETURNING id
        """,
        forge,
        external_key,
        account,
    )
    return int(tenant_id)


async def set_tenant_state(conn: asyncpg.Connection, tenant_id: int, action: str) -> None:
    updates = {
        "created": "removed_at = NULL, suspended_at = NULL",
        "deleted": "removed_at = now()",
        "suspend": "suspended_at = now()",
        "unsuspend": "suspended_at = NULL",
    }
    if action in updates:
        await conn.execute(f"UPDATE tenants SET {updates[action]} WHERE id = $1", tenant_id)


async def get_tenant(conn: asyncpg.Connection, tenant_id: int) -> Tenant | None:
    row = await conn.fetchrow(
        "SELECT id, forge, external_key, account, suspended_at, removed_at"
        " FROM tenants WHERE id = $1",
        tenant_id,
    )
    return Tenant(**dict(row)) if row else None


async def tenant_ids_for_keys(
    conn: asyncpg.Connection, forge: str, external_keys: list[str]
) -> dict[str, int]:
    """external key → tenant id, for the keys this service knows (a person's workspaces)."""
    rows = await conn.fetch(
        "SELECT external_key, id FROM tenants WHERE forge = $1 AND external_key = ANY($2::text[])",
        forge,
        external_keys,
    )
    return {str(r["external_key"]): int(r["id"]) for r in rows}


async def project_ids_of_instance(conn: asyncpg.Connection, forge: str, instance: str) -> list[int]:
    """The project ids of the tenants `instance#<id>` of `forge` not removed: the projects
    that have reached AgentOps (each with the hook token the operator gave it)."""
    rows = await conn.fetch(
        "SELECT external_key FROM tenants WHERE forge = $1 AND removed_at IS NULL"
        " AND starts_with(external_key, $2)",
        forge,
        instance + "#",
    )
    found = []
    for row in rows:
        rest = str(row["external_key"])[len(instance) + 1 :]
        if rest.isdigit():
            found.append(int(rest))
    return sorted(found)
