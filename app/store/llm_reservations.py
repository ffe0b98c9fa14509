"""SQL for `llm_reservations`: the estimated cost of model calls in flight.

`lock_tenant_budget` serialises the budget check of one tenant: the reserving
transaction takes it, reads what is spent and held, and inserts its own hold before it
commits, so that the next check sees that hold. The lock is an advisory transaction
lock (released at commit), never held across a model call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from app.store.db import TenantConnection

# Advisory locks with two int4 keys live apart from the single-bigint keys (migrations).
_BUDGET_LOCK_CLASS = 0x4A6E


async def lock_tenant_budget(tc: TenantConnection) -> None:
    """Wait until no other transaction is checking this tenant's budgets; held to commit."""
    # Tenants whose ids agree modulo 2^31 share a lock: they wait, nothing else.
    await tc.conn.execute(
        "SELECT pg_advisory_xact_lock($1, ($2 % 2147483648)::int)",
        _BUDGET_LOCK_CLASS,
        tc.tenant_id,
    )


async def spent_and_held_usd(
    tc: TenantConnection, run_id: int, since: datetime
) -> tuple[float, float]:
    """(cost of this run, cost of this tenant since `since`), in USD, each with the live
    reservations added (a reservation counts towards the month it is settled in: now)."""
    record = await tc.conn.fetchrow(
        """
        WITH spent AS (
            SELECT coalesce(sum(cost_usd) FILTER (WHERE run_id = $1), 0) AS run,
                   coalesce(sum(cost_usd) FILTER (WHERE created_at >= $2), 0) AS month
            FROM llm_calls
            WHERE tenant_id = $3 AND (run_id = $1 OR created_at >= $2)
        ), held AS (
            SELECT coalesce(sum(estimate_usd) FILTER (WHERE run_id = $1), 0) AS run,
                   coalesce(sum(estimate_usd), 0) AS month
            FROM llm_reservations
            WHERE tenant_id = $3 AND expires_at > now()
        )
        SELECT spent.run + held.run AS run, spent.month + held.month AS month
        FROM spent, held
        """,
        run_id,
        since,
        tc.tenant_id,
    )
    assert record is not None
    return float(record["run"]), float(record["month"])


async def insert_reservation(
    tc: TenantConnection, run_id: int, estimate_usd: float, lifetime_seconds: float
) -> uuid.UUID:
    """Hold `estimate_usd` for `run_id` until it is settled, released or expired; also
    drops this tenant's expired reservations."""
    await tc.conn.execute(
        "DELETE FROM llm_reservations WHERE tenant_id = $1 AND expires_at <= now()",
        tc.tenant_id,
    )
    reservation_id = uuid.uuid4()
    await tc.conn.execute(
        """
        INSERT INTO llm_reservations (id, tenant_id, run_id, estimate_usd, expires_at)
        VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
        """,
        reservation_id,
        tc.tenant_id,
        run_id,
        estimate_usd,
        lifetime_seconds,
    )
    return reservation_id


async def delete_reservation(tc: TenantConnection, reservation_id: uuid.UUID) -> None:
    await tc.conn.execute("DELETE FROM llm_reservations WHERE id = $1", reservation_id)


async def held_usd(tc: TenantConnection) -> float:
    """What this tenant's live reservations hold, in USD."""
    value = await tc.conn.fetchval(
        "SELECT coalesce(sum(estimate_usd), 0) FROM llm_reservations WHERE expires_at > now()"
    )
    return float(value)


# --- across tenants: the re-enqueue sweep ---------------------------------------------


async def release_reservations_of_runs_all_tenants(
    conn: asyncpg.Connection, run_ids: Sequence[int]
) -> int:
    """Drop the holds of runs whose worker died; returns how many were dropped."""
    dropped = await conn.fetch(
        "DELETE FROM llm_reservations WHERE run_id = ANY($1::bigint[]) RETURNING id",
        list(run_ids),
    )
    return len(dropped)
